import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tifffile

from edge.daemon import Daemon
from edge.io.readers import open_reader
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage, StatusMessage
from tests.edge.helpers import free_port as _free_port
from tests.edge.helpers import local_config
from tests.edge.helpers import notify_messages as _notify_messages
from tests.edge.helpers import service as _service


def _cli(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=timeout_s
    )


def test_demo_replays_real_frames_and_prints_r_against_the_true_stain() -> None:
    r = _cli("demo", "--fps", "8")
    assert r.returncode == 0, r.stderr
    assert "aglu-brightfield (bright-field, int8)" in r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("frame")]
    assert len(lines) == 6 and "received 6 frames" in r.stdout
    scores = [float(ln.split("r vs truth ")[1]) for ln in lines]
    assert all(s > 0.2 for s in scores)  # measured 0.37-0.53 (edge/samples/README.md)
    assert all("in distribution" in ln for ln in lines)
    assert "Pearson r vs truth: mean" in r.stdout


def test_simulated_demo_runs_daemon_and_subscriber_process_and_ends_by_itself() -> None:
    r = _cli("demo", "--source", "simulated", "--frames", "4", "--size", "128", "--fps", "10")
    assert r.returncode == 0, r.stderr
    assert "aglu-qpi (qpi, int8)" in r.stderr
    assert "received 4 frames" in r.stdout
    assert r.stdout.count("latency") >= 4


def test_models_lists_every_shipped_model_with_its_card() -> None:
    r = _cli("models")
    assert r.returncode == 0, r.stderr
    rows = {ln.split()[0]: ln for ln in r.stdout.splitlines()}
    assert {"brightfield", "phase", "qpi"} <= rows.keys()
    assert "bright-field" in rows["brightfield"] and " 1 plane(s)" in rows["brightfield"]
    assert "phase-contrast" in rows["phase"] and "13 plane(s)" in rows["phase"]
    assert "test r 0." in rows["brightfield"] and "texture floor r 0." in rows["phase"]
    assert "cross-validated r 0." in rows["brightfield"]
    assert all("calibrated yes" in row for row in rows.values())


def test_unknown_model_name_is_one_line_naming_the_shipped_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.toml"
    cfg.write_text('[model]\nname = "dapi-magic"\n')
    r = _cli("check", "--config", str(cfg))
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert "model.name" in last and "brightfield" in last and "Traceback" not in r.stderr


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.toml"
    cfg.write_text("[source]\nfps = 0\n")
    r = _cli("run", "--config", str(cfg))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error:")
    assert "source.fps" in r.stderr and "Traceback" not in r.stderr


def test_subscribe_times_out_cleanly() -> None:
    r = _cli("subscribe", "--endpoint", "tcp://127.0.0.1:1", "--timeout-s", "0.3")
    assert r.returncode == 3 and "no message" in r.stderr


def test_run_under_systemd_notify_reload_and_sigterm(tmp_path: Path) -> None:
    """The service as systemd runs it: READY after warm-up; SIGHUP with a broken model keeps
    serving (the control socket reports the failed reload); SIGTERM -> STOPPING, exit 0 < 2 s."""
    control = f"tcp://127.0.0.1:{_free_port()}"
    publish = f"tcp://127.0.0.1:{_free_port()}"
    cfg = tmp_path / "edge.toml"
    base = (
        "[source]\nheight_px = 64\nwidth_px = 64\nfps = 20\n"
        f'[publish]\nendpoint = "{publish}"\n'
        f'[control]\nendpoint = "{control}"\n'
    )
    cfg.write_text(base)
    proc, notify = _service(cfg, tmp_path)
    try:
        _notify_messages(notify, "READY=1")
        (tmp_path / "bad.onnx").write_bytes(b"not a model")
        cfg.write_text(base + f'[model]\npath = "{tmp_path / "bad.onnx"}"\n')
        proc.send_signal(signal.SIGHUP)
        got = _notify_messages(notify, "RELOADING=1")
        got += _notify_messages(notify, "READY=1")
        status = json.loads(_cli("ctl", "status", "--control", control).stdout)
        assert status["reloads"] == {"ok": 0, "failed": 1} and status["state"] == "ready"
        assert status["model"]["precision"] == "int8"
        cfg.write_text("[source\nbroken toml")  # SIGHUP with a config that does not parse
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while status["reloads"]["failed"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            status = json.loads(_cli("ctl", "status", "--control", control).stdout)
        assert status["reloads"] == {"ok": 0, "failed": 2} and status["state"] == "ready"
        cfg.write_text(base.replace("[publish]\n", "[publish]\npublish_input = false\n"))
        proc.send_signal(signal.SIGHUP)  # [publish] publish_input applies at once
        _notify_messages(notify, "READY=1")
        with Subscriber(publish, topics=(b"frame",)) as sub:
            t_hup = time.time_ns()
            msg = sub.recv(timeout_s=10)
            while not (isinstance(msg, FrameMessage) and msg.header["t_ns"]["received"] > t_hup):
                msg = sub.recv(timeout_s=10)
        assert "qpi" not in msg.arrays and "dapi" in msg.arrays
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in _notify_messages(notify, "STOPPING=1")
        assert proc.wait(5) == 0
        assert time.monotonic() - t0 < 2.0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        stderr = proc.communicate()[1]
    assert "reload failed, keeping aglu-qpi" in stderr and "bad.onnx" in stderr


def test_keys_then_ctl_on_a_dead_daemon(tmp_path: Path) -> None:
    r = _cli("keys", str(tmp_path / "k"), "--name", "viewer")
    assert r.returncode == 0 and (tmp_path / "k" / "viewer.key_secret").exists()
    r = _cli("ctl", "ping", "--control", "tcp://127.0.0.1:1", "--timeout-s", "0.2")
    assert r.returncode == 2 and r.stderr.startswith("error: no answer")


def test_subscribe_saves_ome_zarr(tmp_path: Path) -> None:
    daemon = Daemon.for_config(local_config(source={"height_px": 64, "width_px": 64, "fps": 20}))
    daemon.start()
    try:
        r = _cli(
            "subscribe",
            "--endpoint",
            daemon.endpoint,
            "--count",
            "3",
            "--quiet",
            "--save",
            str(tmp_path / "out.zarr"),
        )
    finally:
        daemon.stop()
    assert r.returncode == 0, r.stderr
    assert "saved 3 frames" in r.stdout
    reader = open_reader(tmp_path / "out.zarr", "dapi")
    assert len(reader.planes) == 3 and reader.frame_shape_px == (64, 64)


def test_sigterm_with_a_2048_px_frame_in_flight(tmp_path: Path) -> None:
    """A real process: SIGTERM while 2048x2048 frames are being stained -> STOPPING=1,
    exit 0 within 2 s, and a final status (state `stopping`) whose counters add up."""
    movie = tmp_path / "big.tif"
    data = np.random.default_rng(0).integers(0, 4000, (2, 2048, 2048)).astype(np.uint16)
    tifffile.imwrite(movie, data)
    publish = f"tcp://127.0.0.1:{_free_port()}"
    cfg = tmp_path / "edge.toml"
    cfg.write_text(
        f'[source]\nkind = "replay"\npath = "{movie}"\nfps = 20\nloop = true\n'
        f'[publish]\nendpoint = "{publish}"\nstatus_interval_s = 0.2\n'
        '[control]\nendpoint = ""\n'
    )
    proc, notify = _service(cfg, tmp_path)
    try:
        _notify_messages(notify, "READY=1")
        with Subscriber(publish) as sub:
            while not isinstance(sub.recv(timeout_s=30), FrameMessage):
                pass  # frames flow: the next 2048 px inference is in flight
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert "STOPPING=1" in _notify_messages(notify, "STOPPING=1")
            assert proc.wait(5) == 0
            stop_s = time.monotonic() - t0
            final = None
            with contextlib.suppress(TimeoutError):
                while True:
                    msg = sub.recv(timeout_s=1)
                    if isinstance(msg, StatusMessage):
                        final = msg.header
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
        proc.communicate()
    assert stop_s < 2.0, stop_s
    assert final is not None and final["state"] == "stopping"
    c = final["counters"]
    assert c["received"] == c["published"] + c["dropped"] + c["errors"] and c["errors"] == 0


def test_subscribe_ends_with_its_summary_when_the_daemon_stops() -> None:
    """The daemon's final status ends `aglu-edge subscribe` at once, exit 0 (it used to wait
    10 s and end with `error: no message`)."""
    daemon = Daemon.for_config(local_config(source={"height_px": 64, "width_px": 64, "fps": 20}))
    daemon.start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "subscribe", "--endpoint", daemon.endpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        while not proc.stdout.readline().startswith("frame"):
            pass  # connected: frames arrive
        t0 = time.monotonic()
        daemon.stop()
        out, err = proc.communicate(timeout=10)
        ended_s = time.monotonic() - t0
    finally:
        daemon.stop()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "the daemon ended (state stopping)" in out and "received" in out
    assert ended_s < 5.0


def test_cuda_provider_without_a_gpu_build_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.toml"
    cfg.write_text('[model]\nproviders = ["CUDAExecutionProvider", "CPUExecutionProvider"]\n')
    r = _cli("check", "--config", str(cfg))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "model.providers" in last and "CUDAExecutionProvider" in last
    assert "not available in this onnxruntime" in last

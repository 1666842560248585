"""Issue 25: what a hostile or broken neighbour must not be able to do to the daemon."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edge.daemon import Daemon
from edge.errors import ConfigError, ModelError
from edge.lifecycle import State
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage
from tests.edge.helpers import GatedSource, NotifyRecorder, local_config

SOURCE = {"height_px": 64, "width_px": 64, "fps": 40}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_a_nan_model_is_refused_by_check_start_and_reload(nan_model: Path, tmp_path: Path) -> None:
    """A file with NaN weights (and a valid card) never serves: warm-up refuses outputs
    that are not finite, at check, at start and at reload (the old model keeps serving)."""
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'[model]\npath = "{nan_model}"\n')
    r = _cli("check", "--config", str(cfg))
    assert r.returncode == 2 and "non-finite" in r.stderr and "Traceback" not in r.stderr
    bad = local_config(source=SOURCE, model={"path": str(nan_model)})
    with pytest.raises(ModelError, match="non-finite"):
        Daemon.for_config(bad).start()
    daemon = Daemon.for_config(local_config(source=SOURCE))
    daemon.start()
    try:
        assert not daemon.reload(bad)
        assert daemon.reloads == {"ok": 0, "failed": 1} and daemon.state is State.READY
        with Subscriber(daemon.endpoint, topics=(b"frame",)) as sub:
            msg = sub.recv(timeout_s=10)
            assert isinstance(msg, FrameMessage)
            assert np.isfinite(msg.arrays["dapi"]).all()
    finally:
        daemon.stop()


def test_check_refuses_a_source_that_cannot_fill_a_multi_plane_model(
    tmp_path: Path, tiny_stack_export
) -> None:  # type: ignore[no-untyped-def]
    """The 2-D simulated microscope and a 3-plane model: `check` and `run` say so in one
    line (before issue 25, check said ok and run exited 1 after 4 s of errors)."""
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'[model]\npath = "{tiny_stack_export.fp32}"\n')
    for command in ("check", "run"):
        r = _cli(command, "--config", str(cfg))
        assert r.returncode == 2, r.stderr
        last = r.stderr.strip().splitlines()[-1]
        assert "simulated delivers single (Y, X) planes" in last and "3 planes" in last
    with pytest.raises(ConfigError, match="takes 3 planes"):
        Daemon.for_config(
            local_config(source=SOURCE, model={"path": str(tiny_stack_export.fp32)})
        ).check()


def test_bad_input_logs_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    """2000 bad frames: all counted, at most a handful of log lines."""
    frames = [np.full((64, 64), np.nan, np.float32)] * 2000 + [np.ones((64, 64), np.float32)]
    source = GatedSource(frames, period_s=0.0)
    daemon = Daemon(local_config(source=SOURCE, queue={"capacity": 1024}), source=source)
    daemon.start()
    source.gate.set()
    try:
        assert daemon.wait(60)
    finally:
        daemon.stop()
    snap = daemon.counters.snapshot()
    assert snap.received == 2001 == snap.published + snap.dropped + snap.errors
    assert snap.rejected == snap.errors > 0 and daemon.failure is None
    lines = [r for r in caplog.records if r.name == "edge.daemon" and "bad input" in r.message]
    assert 1 <= len(lines) <= 5


def test_a_wrong_acquisition_time_does_not_poison_the_latency_figures() -> None:
    from edge.stats import Counters

    c = Counters()
    for _ in range(10):
        c.published_one(5.0)
    c.published_one(1e27)  # a frame "acquired" at t = 1e30 ns
    c.published_one(-3.0)  # ... or in the future
    snap = c.snapshot()
    assert snap.published == 12 and snap.latency_ms_p95 == 5.0


def test_non_finite_outputs_on_a_valid_frame_are_an_inference_error(nan_model: Path) -> None:
    """The stainer never returns outputs that are not finite: the daemon counts such a
    frame as a model failure (never published, never 'in distribution')."""
    from edge.errors import InferenceError
    from edge.infer.model import SessionConfig, load_model
    from edge.infer.stainer import Stainer

    stainer = Stainer(load_model(nan_model, SessionConfig()))
    with pytest.raises(InferenceError, match=r"output 'dapi' has 4096 non-finite value"):
        stainer.stain(np.ones((64, 64), np.float32))


def test_a_reload_asked_after_stop_never_starts() -> None:
    notes = NotifyRecorder()
    d = Daemon.for_config(local_config(source=SOURCE), notifier=notes)
    d.start()
    d.stop()
    assert not d.reload(local_config(source=SOURCE))
    assert "RELOADING=1" not in notes.fields and d.state is State.STOPPED


def test_sighup_then_sigterm_within_50_ms_ends_cleanly(tmp_path: Path) -> None:
    """SIGHUP then SIGTERM 20, 60 and 100 ms later on the real service: systemd never
    hears RELOADING or READY after STOPPING, the final status is not 'reloading', a
    subscriber sees the end (exit 0, not the 10 s time-out) and the daemon exits 0 (it
    aborted with SIGABRT when it exited with the reload's warm-up inside onnxruntime)."""
    import signal

    from tests.edge.helpers import free_port, service

    for trial, delay_s in enumerate((0.02, 0.06, 0.1)):
        where = tmp_path / f"t{trial}"
        where.mkdir()
        publish = f"tcp://127.0.0.1:{free_port()}"
        cfg = where / "edge.toml"
        cfg.write_text(
            "[source]\nheight_px = 256\nwidth_px = 256\nfps = 20\n"
            f'[publish]\nendpoint = "{publish}"\nstatus_interval_s = 0.2\n'
            '[control]\nendpoint = ""\n'
        )
        proc, notify = service(cfg, where)
        sub = None
        try:
            got = notify.recv(4096).decode().splitlines()
            while "READY=1" not in got:
                got += notify.recv(4096).decode().splitlines()
            sub = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "subscribe", "--endpoint", publish, "--quiet"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(1.5)  # the subscriber is connected and receiving
            proc.send_signal(signal.SIGHUP)
            time.sleep(delay_s)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
            notify.settimeout(0.5)
            try:
                while True:
                    got += notify.recv(4096).decode().splitlines()
            except TimeoutError:
                pass
            after = got[got.index("STOPPING=1") :]
            assert "RELOADING=1" not in after and "READY=1" not in after, got
            out, err = sub.communicate(timeout=8)
            assert sub.returncode == 0, err
            assert "reloading" not in out
        finally:
            for p in (proc, sub):
                if p is not None:
                    if p.poll() is None:
                        p.kill()
                    p.communicate()  # closes its pipes
            notify.close()


def test_check_refuses_a_missing_curve_key_file_as_run_does(tmp_path: Path) -> None:
    (tmp_path / "authorized").mkdir()
    cfg = tmp_path / "edge.toml"
    cfg.write_text(
        '[publish]\nendpoint = "tcp://0.0.0.0:0"\n'
        f'curve_secret_key = "{tmp_path / "missing.key_secret"}"\n'
        f'curve_authorized_dir = "{tmp_path / "authorized"}"\n'
    )
    for command in ("check", "run"):
        r = _cli(command, "--config", str(cfg))
        assert r.returncode == 2, (command, r.stderr)
        assert "publish.curve_secret_key" in r.stderr.strip().splitlines()[-1]


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_failed_reloads_do_not_grow_memory(nan_model: Path) -> None:
    """Issue 25: RSS grew ~100 -> 235 MB over 40-90 failed reloads (until the next good
    one). 40 reloads of a NaN model (each loads a session and warms it up, then is
    refused): RSS after the 40th within 24 MB of after the 5th (a leaked 2.9 MB model
    per reload would be 100 MB)."""
    daemon = Daemon.for_config(local_config(source={**SOURCE, "height_px": 256, "width_px": 256}))
    daemon.start()
    bad = local_config(source=SOURCE, model={"path": str(nan_model)})
    try:
        rss = []
        for i in range(40):
            assert not daemon.reload(bad)
            if i in (4, 39):
                rss.append(_rss_mib())
        assert daemon.reloads["failed"] == 40 and daemon.state is State.READY
    finally:
        daemon.stop()
    assert rss[1] - rss[0] < 24, rss

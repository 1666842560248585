import subprocess
import sys
from pathlib import Path


def _cli(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=timeout_s
    )


def test_demo_runs_daemon_and_subscriber_process_and_ends_by_itself() -> None:
    r = _cli("demo", "--frames", "4", "--size", "128", "--fps", "10")
    assert r.returncode == 0, r.stderr
    assert "received 4 frames" in r.stdout
    assert r.stdout.count("latency") >= 4


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

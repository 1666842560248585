import subprocess
import sys
from pathlib import Path


def test_bad_checkpoint_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint")
    r = subprocess.run(
        [sys.executable, "-m", "export.cli", str(bad), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: model")
    assert "Traceback" not in r.stderr

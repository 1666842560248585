"""The systemd unit, example config and install scripts under systemd/."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import EdgeConfig, load_config

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"


def _unit_here(tmp_path: Path) -> Path:
    """The shipped unit with ExecStart pointing at this venv's aglu-edge (verify checks it)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (Debian: apt-get install systemd)")
    exe = Path(sys.executable).parent / "aglu-edge"
    text = (SYSTEMD / "aglu-edge.service").read_text()
    assert "ExecStart=/opt/aglu/venv/bin/aglu-edge run --config /etc/aglu/edge.toml" in text
    unit = tmp_path / "aglu-edge.service"
    unit.write_text(text.replace("/opt/aglu/venv/bin/aglu-edge", str(exe)))
    return unit


def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    unit = _unit_here(tmp_path)
    r = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "aglu-edge.service" not in r.stderr, r.stderr  # no warning about our unit


def test_security_exposure_is_ok_or_better(tmp_path: Path) -> None:
    unit = _unit_here(tmp_path)
    r = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for aglu-edge\.service: ([\d.]+) (\w+)", r.stdout)
    assert m is not None, r.stdout + r.stderr
    assert m.group(2) in ("SAFE", "OK") and float(m.group(1)) < 2.0, m.group(0)


def test_unit_is_a_supervised_notify_service() -> None:
    keys = dict(
        line.split("=", 1)
        for line in (SYSTEMD / "aglu-edge.service").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert keys["Type"] == "notify" and keys["Restart"] == "on-failure"
    assert int(keys["WatchdogSec"]) > 0 and keys["User"] == "aglu"
    assert keys["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert keys["ProtectSystem"] == "strict" and keys["NoNewPrivileges"] == "yes"


def test_example_config_documents_every_field_and_checks_out() -> None:
    import tomllib

    path = SYSTEMD / "edge.toml"
    data = tomllib.loads(path.read_text())
    cfg = load_config(path)
    for name in EdgeConfig.model_fields:
        assert set(data.get(name, {})) == set(type(getattr(cfg, name)).model_fields), name
    r = subprocess.run(
        [sys.executable, "-m", "edge.cli", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stdout.startswith("ok: "), r.stderr


@pytest.mark.parametrize("script", ["install.sh", "uninstall.sh"])
def test_scripts_dry_run_lists_their_steps(script: str) -> None:
    r = subprocess.run(
        ["bash", str(SYSTEMD / script)],
        env={**os.environ, "DRY_RUN": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    steps = [line[2:] for line in r.stdout.splitlines() if line.startswith("+ ")]
    if script == "install.sh":
        user_exists = any(u.pw_name == "aglu" for u in pwd.getpwall())
        assert user_exists or any(s.startswith("useradd --system") for s in steps)
        assert any("pip install -q " in s and "[mm,io]" in s for s in steps)
        assert "systemctl enable aglu-edge.service" in steps
        assert steps.index("/opt/aglu/venv/bin/aglu-edge check --config /etc/aglu/edge.toml") < (
            steps.index("systemctl restart aglu-edge.service")
        )
    else:
        assert steps[0] == "systemctl disable --now aglu-edge.service"
        assert "rm -rf /etc/aglu" not in steps  # config kept without --purge

"""DDP through torchrun on CPU (gloo): two real processes train one model together."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from training.models.build import load_checkpoint


def test_torchrun_two_processes(tmp_path: Path) -> None:
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(
        'name = "ddp"\n[data]\nfield_px = 64\ncrop_px = 64\ntrain_fields = 2\nval_fields = 1\n'
        "[model]\nencoder_widths = [4, 8, 8]\nlatent_channels = 4\ntranslator_width = 8\n"
        "[stages]\nvae_steps = 2\ntranslator_steps = 2\njoint_steps = 2\n"
        "[optim]\nbatch_size = 2\nthreads = 1\n"
    )
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "training.cli",
            "fit",
            str(recipe),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    model, cfg = load_checkpoint(tmp_path / "ddp" / "ddp.pt")
    assert cfg.name == "ddp"
    with torch.no_grad():
        assert model(torch.rand(1, 1, 64, 64))[0].shape == (1, 1, 64, 64)

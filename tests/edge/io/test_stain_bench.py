"""aglu-edge bench-stain: a real model on a real OME-TIFF, side by side (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tifffile


def test_bench_stain_prints_each_pass_and_the_median_ratios(tmp_path: Path) -> None:
    args = ["--size", "64", "--frames", "3", "--repeats", "2", "--workdir", str(tmp_path)]
    r = subprocess.run(
        [sys.executable, "-m", "edge.cli", "bench-stain", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("aglu-qpi (aglu-qpi.int8.onnx), 64 px, 3 frames, output zarr")
    assert [line.split()[0] for line in lines[2:4]] == ["0", "1"]
    assert "median stain / stainer: " in lines[4] and "2 repeats" in lines[4]
    assert "median stain with a normal-priority writer / stainer: " in lines[5]
    # the input stays for the next run; every pass's output is gone
    assert [p.name for p in tmp_path.iterdir()] == ["bench-input-64px-3.ome.tif"]
    with tifffile.TiffFile(tmp_path / "bench-input-64px-3.ome.tif") as tif:
        assert tif.series[0].shape == (3, 64, 64) and tif.series[0].axes == "TYX"

"""aglu-edge stain: real files in, real OME-Zarr/OME-TIFF out, the daemon's stainer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from edge.infer.model import SessionConfig, default_model_path, load_model
from edge.infer.stainer import Stainer
from edge.io.readers import open_reader


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "stain", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _series(path: Path, frames: int = 4, side: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.normal(0, 1, (frames, side, side)).astype(np.float32)
    tifffile.imwrite(path, data, metadata={"axes": "TYX"}, ome=True)
    return data


def test_a_time_series_is_stained_frame_by_frame_as_the_daemon_would(tmp_path: Path) -> None:
    """Every frame of an OME-TIFF series: the output holds the input plane, dapi and sigma
    (dapi equal to the stainer's on that plane), each frame's header with its coordinates
    and quality block, and the input's own metadata."""
    data = _series(tmp_path / "run1.ome.tif")
    r = _cli(str(tmp_path / "run1.ome.tif"), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out" / "run1.aglu.zarr"
    assert "4 frames (0 refused, 0 failed)" in r.stdout
    dapi = open_reader(out, "dapi")
    try:
        got = [dapi.read(c) for c in dapi.planes]
    finally:
        dapi.close()
    stainer = Stainer(load_model(default_model_path("int8"), SessionConfig()))
    np.testing.assert_array_equal(got[2], stainer.stain(data[2])["dapi"])
    headers = [json.loads(line) for line in Path(f"{out}.frames.jsonl").read_text().splitlines()]
    assert [h["axes"] for h in headers] == [{"T": t} for t in range(4)]
    assert all(h["quality"]["in_distribution"] in (True, False) for h in headers)
    assert headers[0]["model"]["name"] == "aglu-qpi"
    meta = json.loads(Path(f"{out}.input.json").read_text())
    assert meta["input"].endswith("run1.ome.tif") and "<OME" in meta["ome_xml"]


def test_nothing_is_written_over_an_input_or_an_earlier_output(tmp_path: Path) -> None:
    _series(tmp_path / "run1.ome.tif", frames=1)
    first = _cli(str(tmp_path / "run1.ome.tif"), "--out", str(tmp_path / "out"))
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "out" / "run1.aglu.zarr.frames.jsonl").read_bytes()
    again = _cli(str(tmp_path / "run1.ome.tif"), "--out", str(tmp_path / "out"))
    assert again.returncode == 2 and "exists; refusing to overwrite" in again.stderr
    assert (tmp_path / "out" / "run1.aglu.zarr.frames.jsonl").read_bytes() == before
    folder = tmp_path / "pngs"
    folder.mkdir()
    inside = _cli(str(folder), "--out", str(folder))
    assert inside.returncode == 2 and "inside or over an input" in inside.stderr


def test_a_folder_of_png_images_and_a_bad_frame_among_them(tmp_path: Path) -> None:
    """A folder of PNGs is one dataset (one frame per file, in name order); a frame the
    stainer cannot take (a colour image) is refused, named and counted; the rest go on."""
    from PIL import Image

    folder = tmp_path / "acq"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(folder / f"f{i}.png")
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / "f9.png")
    r = _cli(str(folder), "--out", str(tmp_path / "out"), "--format", "tiff", "--with-input")
    assert r.returncode == 0, r.stderr
    assert "3 frames (1 refused, 0 failed)" in r.stdout and "frame 3" in r.stderr
    with tifffile.TiffFile(tmp_path / "out" / "acq.aglu.ome.tif") as tif:
        assert len(tif.series) == 3
        planes = tif.series[1].asarray()  # --with-input: the input plane, dapi, sigma
    assert planes.shape == (3, 64, 64)
    np.testing.assert_array_equal(planes[0], np.asarray(Image.open(folder / "f1.png")))


def test_z_planes_become_stacks_for_a_multi_plane_model(tmp_path: Path, tiny_stack_export) -> None:  # type: ignore[no-untyped-def]
    """A (T, Z, Y, X) recording and a 3-plane model: one stained frame per time point."""
    data = np.random.default_rng(2).normal(0, 1, (2, 3, 64, 64)).astype(np.float32)
    tifffile.imwrite(tmp_path / "z.ome.tif", data, metadata={"axes": "TZYX"}, ome=True)
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'[model]\npath = "{tiny_stack_export.fp32}"\n')
    r = _cli(str(tmp_path / "z.ome.tif"), "--out", str(tmp_path / "out"), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "2 frames (0 refused, 0 failed)" in r.stdout


@pytest.mark.parametrize("bad", ["missing.tif"])
def test_a_missing_input_is_one_line(tmp_path: Path, bad: str) -> None:
    r = _cli(str(tmp_path / bad), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "Traceback" not in r.stderr

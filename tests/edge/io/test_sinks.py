"""Saving received frames to real OME-Zarr and OME-TIFF files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from edge.io.readers import open_reader
from edge.io.sinks import SinkError, open_sink
from edge.net.wire import FrameMessage


def _msg(
    i: int, shape: tuple[int, int] = (32, 40), names: tuple[str, ...] = ("qpi", "dapi")
) -> FrameMessage:
    rng = np.random.default_rng(i)
    arrays = {n: rng.random(shape).astype(np.float32) for n in names}
    arrays["qpi"] = rng.integers(0, 4000, shape).astype(np.uint16)
    return FrameMessage({"frame_index": i, "pixel_size_um": 0.25, "axes": {"time": i}}, arrays)


@pytest.mark.parametrize("name", ["out.zarr", "out.ome.tif"])
def test_frames_round_trip_and_headers_are_logged(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    sink = open_sink(path)
    msgs = [_msg(i) for i in range(3)]
    for m in msgs:
        sink.write(m)
    with pytest.raises(SinkError, match=r"frame 9: channels .* differ"):
        sink.write(_msg(9, shape=(16, 16)))  # refused; the file stays as it was
    sink.close()
    headers = [json.loads(line) for line in Path(f"{path}.frames.jsonl").read_text().splitlines()]
    assert [h["frame_index"] for h in headers] == [0, 1, 2]
    if name.endswith(".zarr"):
        reader = open_reader(path, "dapi")  # our own replay reads it back
        assert len(reader.planes) == 3
        np.testing.assert_array_equal(reader.read(reader.planes[2]), msgs[2].arrays["dapi"])
        np.testing.assert_array_equal(
            open_reader(path, "qpi").read({"t": 1, "c": 0}), msgs[1].arrays["qpi"]
        )
    else:
        with tifffile.TiffFile(path) as tif:
            assert len(tif.series) == 3 and tif.series[2].axes == "CYX"
            np.testing.assert_array_equal(tif.series[2].asarray()[1], msgs[2].arrays["dapi"])
            assert 'PhysicalSizeX="0.25"' in (tif.ome_metadata or "")


def test_existing_path_and_unknown_suffix_are_refused(tmp_path: Path) -> None:
    (tmp_path / "taken.zarr").mkdir()
    with pytest.raises(SinkError, match="exists; refusing to overwrite"):
        open_sink(tmp_path / "taken.zarr")
    with pytest.raises(SinkError, match=r"\.zarr folder or a \.ome\.tif"):
        open_sink(tmp_path / "out.png")


def test_zarr_reads_back_the_chunks_the_sink_encodes_itself(tmp_path: Path) -> None:
    """The sink encodes each chunk on the caller's thread; zarr reads them as its own,
    and a frame is visible only once all its chunks are on disk."""
    import zarr

    path = tmp_path / "out.zarr"
    sink = open_sink(path)
    msgs = [_msg(i) for i in range(2)]
    for m in msgs:
        sink.write(m)
    sink.close()
    array = zarr.open_array(str(path / "0"), mode="r")
    assert array.shape == (2, 2, 32, 40) and array.dtype == np.float32
    np.testing.assert_array_equal(array[1, 1], msgs[1].arrays["dapi"])
    np.testing.assert_array_equal(array[0, 0], msgs[0].arrays["qpi"].astype(np.float32))
    codecs = json.loads((path / "0" / "zarr.json").read_text())["codecs"]
    assert codecs[1]["name"] == "blosc" and codecs[1]["configuration"]["cname"] == "lz4"


@pytest.mark.parametrize("name", ["none.zarr", "none.ome.tif"])
def test_a_sink_that_got_no_frame_leaves_nothing_behind(tmp_path: Path, name: str) -> None:
    open_sink(tmp_path / name).close()
    assert list(tmp_path.iterdir()) == []

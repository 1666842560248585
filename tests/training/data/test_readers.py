"""Real files written by tifffile, zarr and ndstorage; every bad input names its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from tests.files import write_ndtiff
from training.data.readers.base import DataError
from training.data.readers.load import load_pairs

CH = ("QPI", "DAPI")


def _planes(n: int = 2, shape: tuple[int, int] = (48, 64)) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        (rng.random(shape, np.float32), rng.integers(0, 4000, shape).astype(np.uint16))
        for _ in range(n)
    ]


def _folders(root: Path, files: dict[str, np.ndarray]) -> None:
    """Write {"QPI/x.tif": array, ...} under root: the one-folder-per-channel layout."""
    for rel, array in files.items():
        (root / rel).parent.mkdir(exist_ok=True)
        tifffile.imwrite(root / rel, array)


def test_two_channel_folders_paired_by_name(tmp_path: Path) -> None:
    planes = _planes()
    _folders(
        tmp_path,
        {f"QPI/f{i}.tif": q for i, (q, _) in enumerate(planes)}
        | {f"DAPI/f{i}.tif": d for i, (_, d) in enumerate(planes)},
    )
    pairs = load_pairs("tiff", tmp_path, CH, 32)
    assert len(pairs) == 2
    np.testing.assert_array_equal(pairs[1].qpi[0], planes[1][0])
    np.testing.assert_array_equal(pairs[1].dapi, planes[1][1].astype(np.float32))


def test_ome_tiff_channels_selected_by_name_and_planes_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(0, 1000, (3, 3, 40, 40)).astype(np.uint16)  # T, C, Y, X
    tifffile.imwrite(
        tmp_path / "a.ome.tif",
        data,
        ome=True,
        metadata={"axes": "TCYX", "Channel": {"Name": ["BF", "DAPI", "QPI"]}},
    )
    pairs = load_pairs("tiff", tmp_path, CH, 32)
    assert len(pairs) == 3
    np.testing.assert_array_equal(pairs[2].qpi[0], data[2, 2])
    np.testing.assert_array_equal(pairs[2].dapi, data[2, 1])
    assert "a.ome.tif" in pairs[2].origin


def _write_omezarr(path: Path, data: np.ndarray, axes: str, names: list[str], v3: bool) -> None:
    import zarr

    group = zarr.open_group(str(path), mode="w", zarr_format=3 if v3 else 2)
    group.create_array("0", data=data)
    ms = {
        "version": "0.5" if v3 else "0.4",
        "axes": [{"name": a.lower()} for a in axes],
        "datasets": [{"path": "0"}],
    }
    meta = {"multiscales": [ms], "omero": {"channels": [{"label": n} for n in names]}}
    group.attrs.update({"ome": meta} if v3 else meta)


@pytest.mark.parametrize("v3", [False, True])
def test_ome_zarr_v04_and_v05(tmp_path: Path, v3: bool) -> None:
    data = np.random.default_rng(2).random((2, 2, 40, 48)).astype(np.float32)  # C, Z, Y, X
    _write_omezarr(tmp_path / "img.zarr", data, "CZYX", ["DAPI", "QPI"], v3)
    pairs = load_pairs("omezarr", tmp_path, CH, 32)
    assert len(pairs) == 2
    np.testing.assert_array_equal(pairs[1].qpi[0], data[1, 1])
    np.testing.assert_array_equal(pairs[1].dapi, data[0, 1])


def test_ndtiff_dataset(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    written = {
        (t, c): rng.integers(1, 4000, (40, 40)).astype(np.uint16) for t in range(2) for c in CH
    }
    pairs = load_pairs("ndtiff", write_ndtiff(tmp_path, written), CH, 32)
    assert len(pairs) == 2
    np.testing.assert_array_equal(pairs[1].qpi[0], written[1, "QPI"])
    np.testing.assert_array_equal(pairs[1].dapi, written[1, "DAPI"])
    assert "time=1" in pairs[1].origin


def test_ndtiff_missing_channel_at_a_position(tmp_path: Path) -> None:
    img = np.ones((40, 40), np.uint16)
    path = write_ndtiff(tmp_path, {(0, "QPI"): img, (0, "DAPI"): img, (1, "QPI"): img})
    with pytest.raises(DataError, match=r"time=1.*missing channel"):
        load_pairs("ndtiff", path, CH, 32)


def test_unpaired_sizes_name_the_file(tmp_path: Path) -> None:
    _folders(
        tmp_path,
        {
            "QPI/x.tif": np.ones((40, 40), np.float32),
            "DAPI/x.tif": np.arange(48 * 40, dtype=np.uint16).reshape(48, 40),
        },
    )
    with pytest.raises(DataError, match=r"x\.tif.*sizes differ"):
        load_pairs("tiff", tmp_path, CH, 32)


def test_file_without_partner(tmp_path: Path) -> None:
    (tmp_path / "DAPI").mkdir()
    _folders(tmp_path, {"QPI/lonely.tif": np.ones((40, 40), np.float32)})
    with pytest.raises(DataError, match="lonely"):
        load_pairs("tiff", tmp_path, CH, 32)


def test_missing_channel_lists_what_the_file_has(tmp_path: Path) -> None:
    tifffile.imwrite(
        tmp_path / "b.ome.tif",
        np.zeros((2, 40, 40), np.uint16),
        ome=True,
        metadata={"axes": "CYX", "Channel": {"Name": ["BF", "GFP"]}},
    )
    with pytest.raises(DataError, match=r"b\.ome\.tif.*\['QPI', 'DAPI'\].*\['BF', 'GFP'\]"):
        load_pairs("tiff", tmp_path, CH, 32)


def test_nan_in_input_names_the_file(tmp_path: Path) -> None:
    data = np.random.default_rng(0).random((2, 40, 40)).astype(np.float32)
    data[1, 3, 3] = np.nan
    tifffile.imwrite(
        tmp_path / "n.ome.tif",
        data,
        ome=True,
        metadata={"axes": "CYX", "Channel": {"Name": ["QPI", "DAPI"]}},
    )
    with pytest.raises(DataError, match=r"n\.ome\.tif.*target contains NaN"):
        load_pairs("tiff", tmp_path, CH, 32)


@pytest.mark.parametrize("source", ["tiff", "omezarr", "ndtiff"])
def test_empty_folder_is_refused(tmp_path: Path, source: str) -> None:
    with pytest.raises(DataError, match=str(tmp_path)):
        load_pairs(source, tmp_path, CH, 32)


def test_wrong_dtype_and_corrupt_tiff(tmp_path: Path) -> None:
    _folders(
        tmp_path,
        {"QPI/c.tif": np.ones((40, 40), np.complex64), "DAPI/c.tif": np.ones((40, 40), np.uint16)},
    )
    with pytest.raises(DataError, match=r"c\.tif.*dtype complex64"):
        load_pairs("tiff", tmp_path, CH, 32)
    (tmp_path / "QPI" / "c.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match=r"c\.tif: not a readable TIFF"):
        load_pairs("tiff", tmp_path, CH, 32)


def test_too_small_for_the_crop(tmp_path: Path) -> None:
    tifffile.imwrite(
        tmp_path / "s.ome.tif",
        np.random.default_rng(0).random((2, 20, 20)).astype(np.float32),
        ome=True,
        metadata={"axes": "CYX", "Channel": {"Name": ["QPI", "DAPI"]}},
    )
    with pytest.raises(DataError, match="smaller than the 32 px crop"):
        load_pairs("tiff", tmp_path, CH, 32)


def test_zarr_without_ome_metadata(tmp_path: Path) -> None:
    import zarr

    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w").create_array(
        "0", data=np.zeros((2, 8, 8))
    )
    with pytest.raises(DataError, match="missing OME-Zarr metadata"):
        load_pairs("omezarr", tmp_path / "plain.zarr", CH, 4)

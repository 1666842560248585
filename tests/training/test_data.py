import dataclasses
from pathlib import Path

import numpy as np
import tifffile

from training.config import AugmentSection, parse_train_config
from training.data import Fields, build_fields, otsu_threshold, random_batch


def test_otsu_separates_two_modes() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.1, 0.02, 1000), rng.normal(0.8, 0.05, 300)]).astype(np.float32)
    assert 0.2 < otsu_threshold(x) < 0.7


def test_geometry_augmentation_moves_all_three_arrays_together() -> None:
    """Input, target and mask are the same image here: any mismatch shows a bug."""
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    fields = Fields([img], [img], [img], [None], [None], ["x"])
    aug = AugmentSection(flips=True, intensity_scale=(1.0, 1.0), intensity_shift=0.0, noise_std=0.0)
    x, y, m = random_batch(fields, 16, 32, np.random.default_rng(2), aug)
    np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(y, m)


def test_intensity_augmentation_touches_the_input_only() -> None:
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    fields = Fields([img], [img], [img], [None], [None], ["x"])
    x, y, _ = random_batch(fields, 4, 32, np.random.default_rng(2), AugmentSection(flips=False))
    assert not np.array_equal(x, y)
    assert float(np.abs(x - y).max()) < 0.2  # scale 0.9-1.1, shift 0.05, noise 0.01


def test_simulated_splits_are_disjoint_and_deterministic() -> None:
    cfg = parse_train_config({"data": {"field_px": 64, "train_fields": 2, "val_fields": 2}}, "t")
    train, val = build_fields(cfg, "train"), build_fields(cfg, "val")
    assert not np.array_equal(train.qpi[0], val.qpi[0])
    np.testing.assert_array_equal(build_fields(cfg, "train").qpi[0], train.qpi[0])
    assert train.labels[0] is not None and set(np.unique(train.mask[0])) == {0.0, 1.0}


def test_single_real_image_is_split_by_columns(tmp_path: Path) -> None:
    data = np.random.default_rng(0).random((2, 64, 200)).astype(np.float32)
    tifffile.imwrite(
        tmp_path / "one.ome.tif",
        data,
        ome=True,
        metadata={"axes": "CYX", "Channel": {"Name": ["QPI", "DAPI"]}},
    )
    cfg = parse_train_config(
        {"data": {"source": "tiff", "path": str(tmp_path), "crop_px": 32, "val_fraction": 0.25}},
        "t",
    )
    train, val = build_fields(cfg, "train"), build_fields(cfg, "val")
    assert train.qpi[0].shape == (64, 150) and val.qpi[0].shape == (64, 50)
    assert train.labels[0] is None and train.mask[0].any()  # Otsu mask from the target
    assert dataclasses.is_dataclass(train)


def _files_recipe(tmp_path: Path, stack: np.ndarray, target: np.ndarray, **data: object):  # type: ignore[no-untyped-def]
    """A 'files' recipe over a stack and a target written to tmp_path."""
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    tifffile.imwrite(tmp_path / "dapi.tif", target)
    files = {
        "source": "files",
        "input_path": str(tmp_path / "stack.tif"),
        "target_path": str(tmp_path / "dapi.tif"),
        "crop_px": 32,
    }
    return parse_train_config({"data": {**files, **data}}, "t")


def test_files_source_with_plane_and_test_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cfg = _files_recipe(
        tmp_path,
        rng.random((3, 64, 320)).astype(np.float32),
        rng.integers(0, 999, (64, 320)).astype(np.uint16),
        input_plane=2,
        test_columns_from=240,
        val_fraction=0.25,
    )
    shapes = [build_fields(cfg, s).qpi[0].shape for s in ("train", "val", "test")]
    assert shapes == [(64, 180), (64, 60), (64, 80)]


def test_files_source_bad_plane_names_the_file(tmp_path: Path) -> None:
    import pytest

    from training.datasets import DataError

    cfg = _files_recipe(
        tmp_path,
        np.ones((3, 40, 40), np.float32),
        np.arange(1600, dtype=np.uint16).reshape(40, 40),
        input_plane=7,
    )
    with pytest.raises(DataError, match=r"stack\.tif: has shape \(3, 40, 40\): no plane 7"):
        build_fields(cfg, "train")

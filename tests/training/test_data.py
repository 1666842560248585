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

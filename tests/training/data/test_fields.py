from pathlib import Path

import numpy as np
import pytest
import tifffile

from edge.errors import ConfigError
from training.config import AugmentSection, parse_train_config
from training.data.augment import random_batch
from training.data.fields import Fields, build_fields, weight_map
from training.data.readers.base import DataError
from training.data.segment import otsu_threshold

NO_DRIFT = AugmentSection(
    flips=True, intensity_scale=(1.0, 1.0), intensity_shift=0.0, noise_std=0.0
)


def _fields(img: np.ndarray, planes: int = 1) -> Fields:
    return Fields([np.stack([img] * planes)], [img], [img], [None], [None], ["x"])


def test_otsu_separates_two_modes() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.1, 0.02, 1000), rng.normal(0.8, 0.05, 300)]).astype(np.float32)
    assert 0.2 < otsu_threshold(x) < 0.7


def test_geometry_augmentation_moves_all_arrays_and_planes_together() -> None:
    """Input planes, target and mask are the same image here: any mismatch shows a bug."""
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    x, y, m = random_batch(_fields(img, 3), 16, 32, np.random.default_rng(2), NO_DRIFT)
    assert x.shape == (16, 3, 32, 32) and y.shape == m.shape == (16, 1, 32, 32)
    for p in range(3):
        np.testing.assert_array_equal(x[:, p : p + 1], y)
    np.testing.assert_array_equal(y, m)


def test_intensity_augmentation_touches_the_input_only() -> None:
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    x, y, _ = random_batch(
        _fields(img), 4, 32, np.random.default_rng(2), AugmentSection(flips=False)
    )
    assert not np.array_equal(x, y)
    assert float(np.abs(x - y).max()) < 0.2  # scale 0.9-1.1, shift 0.05, noise 0.01


def test_plane_shift_moves_focus_by_at_most_the_setting() -> None:
    """Planes hold their index; after a shift of s, plane p shows clip(p + s)."""
    stack = np.stack([np.full((32, 32), p, np.float32) for p in range(5)])
    fields = Fields([stack], [stack[0]], [stack[0]], [None], [None], ["x"])
    aug = NO_DRIFT.model_copy(update={"plane_shift": 1})
    x, _, _ = random_batch(fields, 64, 32, np.random.default_rng(0), aug)
    shifts = {int(x[b, 2, 0, 0]) - 2 for b in range(64)}
    assert shifts == {-1, 0, 1}
    assert all(x[b, 0, 0, 0] == max(0, x[b, 2, 0, 0] - 2) for b in range(64))


def test_nucleus_crops_contain_a_nucleus() -> None:
    """One 4x4 nucleus in a 256x256 field: every nucleus-centred 64 px crop holds it."""
    mask = np.zeros((256, 256), np.float32)
    mask[200:204, 30:34] = 1
    fields = Fields([mask[None]], [mask], [mask], [None], [None], ["x"])
    _, _, m = random_batch(fields, 32, 64, np.random.default_rng(0), NO_DRIFT, 1.0)
    assert all(m[b].sum() == 16 for b in range(32))
    _, _, anywhere = random_batch(fields, 32, 64, np.random.default_rng(0), NO_DRIFT, 0.0)
    assert sum(anywhere[b].sum() > 0 for b in range(32)) < 16


def test_per_nucleus_weights_make_a_faint_nucleus_weigh_as_much() -> None:
    target = np.zeros((40, 40), np.float32)
    labels = np.zeros((40, 40), np.int32)
    for k, (y, value) in enumerate([(2, 1.0), (14, 1.0), (26, 0.25)], start=1):
        target[y : y + 8, 2:10], labels[y : y + 8, 2:10] = value, k
    w = weight_map(target, labels, per_nucleus=True)
    assert w[30, 5] == pytest.approx(4.0) and w[5, 5] == pytest.approx(1.0) and w[0, 20] == 0
    assert set(np.unique(weight_map(target, labels, per_nucleus=False))) == {0.0, 1.0}


def test_simulated_splits_are_disjoint_and_deterministic() -> None:
    cfg = parse_train_config({"data": {"field_px": 64, "train_fields": 2, "val_fields": 2}}, "t")
    train, val = build_fields(cfg, "train"), build_fields(cfg, "val")
    assert train.qpi[0].shape == (1, 64, 64)
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
    assert train.qpi[0].shape == (1, 64, 150) and val.qpi[0].shape == (1, 64, 50)
    assert train.labels[0] is None


def test_validation_on_training_fields_keeps_every_field_for_training(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for p in range(3):
        tifffile.imwrite(
            tmp_path / f"pos{p:03d}.ome.tif",
            rng.random((2, 64, 64)).astype(np.float32),
            ome=True,
            metadata={"axes": "CYX", "Channel": {"Name": ["QPI", "DAPI"]}},
        )
    data = {"source": "tiff", "path": str(tmp_path), "crop_px": 32}
    data |= {"group_pattern": r"(pos\d+)", "test_groups": ["pos002"], "validation": "training"}
    cfg = parse_train_config({"data": data, "optim": {"val_every": 0}}, "t")
    train, val, test = (build_fields(cfg, s) for s in ("train", "val", "test"))
    assert train.origins == val.origins and len(train.origins) == 2
    assert [o.endswith("pos002.ome.tif") for o in test.origins] == [True]
    with pytest.raises(ConfigError, match="contradict"):
        parse_train_config({"data": data | {"val_groups": ["pos001"]}}, "t")


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


def test_files_source_with_planes_and_test_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    stack = rng.random((3, 64, 320)).astype(np.float32)
    cfg = _files_recipe(
        tmp_path,
        stack,
        rng.integers(0, 999, (64, 320)).astype(np.uint16),
        input_planes=[1, 2],
        test_columns_from=240,
        val_fraction=0.25,
    )
    shapes = [build_fields(cfg, s).qpi[0].shape for s in ("train", "val", "test")]
    assert shapes == [(2, 64, 180), (2, 64, 60), (2, 64, 80)]


def test_dataset_normalisation_comes_from_the_training_columns_only(tmp_path: Path) -> None:
    """The test columns are 10x brighter; with 'dataset' they stay 10x brighter after
    normalisation (scaled by training statistics), with 'frame' they would not."""
    stack = np.ones((1, 64, 256), np.float32)
    stack[..., 192:] = 10.0
    stack[..., ::7] = 0.0  # some contrast inside each split
    target = np.tile(np.arange(256, dtype=np.float32), (64, 1))
    cfg = _files_recipe(
        tmp_path,
        stack,
        target,
        test_columns_from=192,
        normalize="dataset",
        low_percentile=0.0,
        high_percentile=100.0,
    )
    train, test = build_fields(cfg, "train"), build_fields(cfg, "test")
    assert train.input_norm == test.input_norm and train.input_norm.method == "fixed"
    assert train.input_norm.high_value == 1.0 and float(test.qpi[0].max()) == pytest.approx(10.0)
    # training = columns 0..172 (the last 10% of 0..191 validate): its maximum, 172
    assert train.target_norm.high_value == 172.0


def test_files_source_bad_planes_name_the_file(tmp_path: Path) -> None:
    cfg = _files_recipe(
        tmp_path,
        np.ones((3, 40, 40), np.float32),
        np.arange(1600, dtype=np.uint16).reshape(40, 40),
        input_planes=[0, 7],
    )
    with pytest.raises(DataError, match=r"stack\.tif: has shape \(3, 40, 40\): no planes 0\.\.7"):
        build_fields(cfg, "train")


def _folders(tmp_path: Path, experiments: dict[str, int]) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for sub in ("bf", "nuc", "mask"):
        (tmp_path / sub).mkdir()
    for exp, n in experiments.items():
        for k in range(n):
            name = f"x__{exp}_p{k:04d}.png"
            nuc = np.zeros((48, 48), np.uint8)
            nuc[10:20, 10:20] = 200
            Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(
                tmp_path / "bf" / name
            )
            Image.fromarray(nuc).save(tmp_path / "nuc" / name)
            Image.fromarray((nuc > 0).astype(np.uint8) * 255).save(tmp_path / "mask" / name)
    return tmp_path


def _folders_recipe(path: Path, **data: object):  # type: ignore[no-untyped-def]
    base = {
        "source": "folders",
        "path": str(path),
        "input_channel": "bf",
        "target_channel": "nuc",
        "mask_channel": "mask",
        "group_pattern": r"__(E\d)_",
        "crop_px": 32,
    }
    return parse_train_config({"data": {**base, **data}}, "t")


def test_folders_split_by_experiment_with_reference_masks(tmp_path: Path) -> None:
    cfg = _folders_recipe(
        _folders(tmp_path, {"E1": 2, "E2": 1, "E3": 2}), val_groups=["E2"], test_groups=["E3"]
    )
    train, val, test = (build_fields(cfg, s) for s in ("train", "val", "test"))
    assert [len(f.qpi) for f in (train, val, test)] == [2, 1, 2]
    assert all("E3" in o for o in test.origins) and all("E1" in o for o in train.origins)
    ref = test.reference[0]
    assert ref is not None and ref.max() == 1 and ref[15, 15] == 1
    assert train.mask[0][15, 15] > 0 and train.mask[0][30, 30] == 0  # weights from the masks


def test_folders_missing_experiment_and_unpaired_files_are_named(tmp_path: Path) -> None:
    path = _folders(tmp_path, {"E1": 2})
    with pytest.raises(DataError, match=r"no files of experiment\(s\) \['E9'\]"):
        build_fields(_folders_recipe(path, test_groups=["E9"]), "train")
    (path / "nuc" / "x__E1_p0000.png").unlink()
    with pytest.raises(DataError, match=r"files missing from some channel folders"):
        build_fields(_folders_recipe(path), "train")


def test_zoom_magnifies_input_target_and_weights_together() -> None:
    """One 8x8 nucleus; at zoom 2 every nucleus-centred crop shows it 16x16 in all
    three arrays (the weights resampled nearest, so they stay 0 or the nucleus' weight)."""
    mask = np.zeros((256, 256), np.float32)
    mask[100:108, 60:68] = 1
    fields = Fields([mask[None]], [mask], [mask], [None], [None], ["x"])
    aug = NO_DRIFT.model_copy(update={"zoom": (2.0, 2.0)})
    x, y, m = random_batch(fields, 16, 64, np.random.default_rng(0), aug, 1.0)
    assert set(np.unique(m)) <= {0.0, 1.0}
    np.testing.assert_array_equal(x, y)
    assert all(abs(float(m[b].sum()) - 256) <= 32 for b in range(16))
    assert all(abs(float(y[b].sum()) - 256) <= 32 for b in range(16))
    shrunk = NO_DRIFT.model_copy(update={"zoom": (0.5, 0.5)})
    _, _, m = random_batch(fields, 16, 64, np.random.default_rng(0), shrunk, 1.0)
    assert all(abs(float(m[b].sum()) - 16) <= 8 for b in range(16))


def test_zoom_off_draws_nothing_so_earlier_runs_crops_are_unchanged() -> None:
    """With zoom off (the default) the batch is the one the code drew before the option
    existed (values recorded from that code at this seed), so old runs resume and
    reproduce; a zoom range draws, so its stream differs."""
    img = np.random.default_rng(1).random((96, 96)).astype(np.float32)
    fields = Fields([img[None]], [img], [img], [None], [None], ["x"])
    x, _, _ = random_batch(fields, 6, 32, np.random.default_rng(5), AugmentSection(), 0.5)
    assert float(x.sum()) == pytest.approx(2924.203125, rel=1e-6)
    assert float(x[3, 0, 5, 7]) == pytest.approx(0.8997869491577148, rel=1e-6)
    zoom = AugmentSection(zoom=(1.0, 1.5))
    z, _, _ = random_batch(fields, 6, 32, np.random.default_rng(5), zoom, 0.5)
    assert not np.array_equal(x, z)


def test_zoom_range_is_checked() -> None:
    for bad in ((0.1, 1.0), (2.0, 1.0), (1.0, 8.0)):
        with pytest.raises(ValueError, match="zoom"):
            AugmentSection(zoom=bad)

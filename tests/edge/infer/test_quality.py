"""Per-frame quality: pure statistics, and the shipped models' cards on real frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edge.infer.model import SessionConfig, load_model, shipped_model_path
from edge.infer.preprocess import Normalization
from edge.infer.quality import (
    BANDS_PX,
    HIST_BINS,
    MAX_DISTANCE,
    _boxes,
    feature_names,
    fit_input_model,
    fit_sigma_scale,
    laplace_coverage,
    meter_for,
    tile_features,
)
from edge.io.readers import open_reader
from edge.sources.replay import DEMO_SAMPLE


def _naive_box(x: np.ndarray, r: int) -> np.ndarray:
    p = np.pad(x.astype(np.float64), r, mode="edge")
    h, w = x.shape
    return np.array(
        [[p[y : y + 2 * r + 1, c : c + 2 * r + 1].mean() for c in range(w)] for y in range(h)]
    )


def test_integral_image_boxes_equal_naive_box_means() -> None:
    x = np.random.default_rng(0).random((23, 31)).astype(np.float32)
    for r, got in zip((1, 2, 4), _boxes(x, (1, 2, 4)), strict=True):
        np.testing.assert_allclose(got, _naive_box(x, r), atol=1e-9)


def test_tile_features_histogram_bands_and_clipping() -> None:
    norm = Normalization(1.0, 99.8)
    rng = np.random.default_rng(1)
    f = tile_features(rng.random((64, 64)).astype(np.float32), norm)
    assert f.shape == (len(feature_names(1)),)
    assert math.isclose(f[:HIST_BINS].sum(), 1.0)
    shares = 10 ** f[HIST_BINS : HIST_BINS + len(BANDS_PX)] - 1e-4
    assert math.isclose(shares.sum(), 1.0, rel_tol=1e-6)
    assert shares[0] > shares[-1]  # white noise: its contrast is at the finest scale
    blank = tile_features(np.full((64, 64), 7, np.uint16), norm)
    assert blank[-2] == blank[-1] == 1.0  # every pixel at the minimum and the maximum


def test_stack_features_measure_how_planes_differ() -> None:
    norm = Normalization(1.0, 99.8)
    plane = np.random.default_rng(2).random((64, 64)).astype(np.float32)
    same = np.repeat(plane[None], 5, axis=0)
    assert tile_features(same, norm)[-1] < 1e-6
    varied = same * np.linspace(0.5, 1.5, 5)[:, None, None]
    assert tile_features(varied.astype(np.float32), norm)[-1] > 0.1
    assert len(feature_names(5)) == len(feature_names(1)) + 1


def test_input_model_flags_the_shifted_statistic_only() -> None:
    rng = np.random.default_rng(3)
    names = ("a", "b", "c")
    feats = rng.normal([0.2, 0.5, 0.8], 0.05, size=(500, 3))
    model = fit_input_model(names, feats)
    inside = [model.distance(f)[0] <= 1 for f in rng.normal([0.2, 0.5, 0.8], 0.05, (200, 3))]
    assert np.mean(inside) >= 0.98
    distance, unusual = model.distance(np.array([0.2, 1.5, 0.8]))
    assert distance > 1 and unusual == "b"
    with pytest.raises(ValueError, match="2 statistics for a model of 3"):
        model.distance(np.zeros(2))


def test_sigma_scale_makes_laplace_intervals_cover() -> None:
    rng = np.random.default_rng(4)
    true_scale = rng.uniform(0.05, 0.2, 200_000).astype(np.float32)
    error = rng.laplace(0.0, true_scale).astype(np.float32)
    sigma = true_scale / 2.5  # an overconfident model
    assert laplace_coverage(error, sigma, 0.9) < 0.7
    k = fit_sigma_scale(error, sigma, 0.9)
    assert k == pytest.approx(2.5, rel=0.03)
    for level in (0.5, 0.9, 0.95):
        assert laplace_coverage(error, k * sigma, level) == pytest.approx(level, abs=0.01)


def test_card_without_calibration_has_no_meter(shipped_int8) -> None:  # type: ignore[no-untyped-def]
    card = shipped_int8.card.model_copy(update={"calibration": None})
    assert meter_for(card) is None


def test_card_with_other_statistics_is_refused() -> None:
    card = load_model(shipped_model_path("brightfield", "int8"), SessionConfig()).card
    assert card.input_stats is not None
    stats = card.input_stats.model_copy(update={"features": ("x",) * len(card.input_stats.center)})
    with pytest.raises(ValueError, match="this edge computes"):
        meter_for(card.model_copy(update={"input_stats": stats}))


# The shipped models on real frames: the demo recording (in the repository).


def _sample_frames() -> list[np.ndarray]:
    reader = open_reader(DEMO_SAMPLE, "bright-field")
    try:
        return [reader.read(c) for c in reader.planes]
    finally:
        reader.close()


def _flags(name: str, frames: list[np.ndarray]) -> list[bool]:
    model = load_model(shipped_model_path(name, "int8"), SessionConfig())
    meter = meter_for(model.card)
    assert meter is not None, f"{name} ships without calibration"
    return [meter.inputs.distance(meter.features(f))[0] > MAX_DISTANCE for f in frames]


def test_brightfield_model_takes_its_own_kind_and_flags_blank_and_saturated() -> None:
    frames = _sample_frames()
    assert _flags("brightfield", frames) == [False] * len(frames)
    blank = [np.full_like(f, int(np.median(f))) for f in frames]
    saturated = [np.where(f > np.percentile(f, 40), f.max(), f) for f in frames]
    assert all(_flags("brightfield", blank)) and all(_flags("brightfield", saturated))


def test_phase_model_flags_bright_field_frames() -> None:
    """A bright-field frame sent to the 13-plane phase-contrast model (as a stack of 13
    copies: the shape the model takes) is out of its distribution."""
    stacks = [np.repeat(f[None], 13, axis=0) for f in _sample_frames()]
    assert all(_flags("phase", stacks))


def _shrink(f: np.ndarray) -> np.ndarray:
    """Half the magnification: 2x2 binning of the frame mirrored to twice its size."""
    m = np.concatenate([f, f[..., ::-1, :]], axis=-2)
    m = np.concatenate([m, m[..., ::-1]], axis=-1).astype(np.float32)
    return m.reshape(*f.shape[:-2], f.shape[-2], 2, f.shape[-1], 2).mean(axis=(-3, -1))


def _zoom(f: np.ndarray) -> np.ndarray:
    """Twice the magnification: the centre half, upsampled 2x."""
    h, w = f.shape[-2:]
    c = f[..., h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2]
    return np.repeat(np.repeat(c, 2, axis=-1), 2, axis=-2)


def test_phase_model_takes_its_test_quarter_and_flags_other_magnifications(
    shared_data: Path,
) -> None:
    import tifffile

    stack = tifffile.imread(shared_data / "isl-condB" / "phase_z13.tif")[..., 768:]
    frames = [stack[:, y : y + 256, :] for y in range(0, 1024 - 255, 128)]  # held out
    assert _flags("phase", frames) == [False] * len(frames)
    assert all(_flags("phase", [_shrink(f) for f in frames]))
    assert all(_flags("phase", [_zoom(f) for f in frames]))


def test_a_strip_too_narrow_to_judge_is_never_in_distribution() -> None:
    """Issue 25: 1 x N strips of a real frame were reported in distribution. Statistics
    whose widest band is 33 px cannot judge a side under 33 px."""
    model = load_model(shipped_model_path("brightfield", "int8"), SessionConfig())
    meter = meter_for(model.card)
    assert meter is not None
    frame = _sample_frames()[0]
    for strip in (frame[:1, :], frame[:, :4], frame[:32, :]):
        q = meter.measure(strip, {"sigma": np.ones(strip.shape, np.float32)})
        assert not q.in_distribution and q.unusual == "frame_side_under_33px"
        assert math.isfinite(q.input_distance)
    q = meter.measure(frame[:33, :], {"sigma": np.ones((33, frame.shape[1]), np.float32)})
    assert q.unusual != "frame_side_under_33px"

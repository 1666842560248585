import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.infer.preprocess import Normalization, check_image, crop, normalize, pad_to_multiple


@given(h=st.integers(1, 80), w=st.integers(1, 80), m=st.sampled_from([1, 8, 32]))
def test_pad_then_crop_round_trips(h: int, w: int, m: int) -> None:
    img = np.arange(h * w, dtype=np.float32).reshape(h, w)
    padded, shape = pad_to_multiple(img, m)
    assert padded.shape[0] % m == 0 and padded.shape[1] % m == 0
    np.testing.assert_array_equal(crop(padded, shape), img)


def test_normalize_maps_percentiles_and_leaves_input_untouched() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(100, 4000, (64, 64)).astype(np.uint16)
    before = img.copy()
    out = normalize(img, Normalization(1.0, 99.0))
    np.testing.assert_array_equal(img, before)
    assert out.dtype == np.float32
    # 1% of pixels below 0 and 1% above 1, within one pixel's rounding.
    assert abs(float((out < 0).mean()) - 0.01) < 2 / img.size + 0.001
    assert abs(float((out > 1).mean()) - 0.01) < 2 / img.size + 0.001


def test_constant_image_does_not_divide_by_zero() -> None:
    out = normalize(np.full((8, 8), 7.0, np.float32), Normalization())
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        (np.zeros((2, 8, 8), np.float32), "2-D"),
        (np.zeros((0, 8), np.float32), "empty"),
        (np.zeros((8, 8), bool), "dtype"),
        (np.full((8, 8), np.nan, np.float32), "NaN"),
        (np.full((8, 8), np.inf, np.float64), "NaN or Inf"),
    ],
)
def test_check_image_names_the_problem(image: np.ndarray, fragment: str) -> None:
    problem = check_image(image)
    assert problem is not None and fragment in problem


def test_bad_percentiles_rejected() -> None:
    with pytest.raises(ValueError, match="percentiles"):
        Normalization(50, 10)


def test_fixed_normalisation_uses_the_stored_values_not_the_frame() -> None:
    """Two frames of different contrast map through the same stored values."""
    norm = Normalization(1.0, 99.0).measured_on([np.arange(1000, dtype=np.float32)])
    assert norm.method == "fixed"
    assert norm.low_value == pytest.approx(9.99) and norm.high_value == pytest.approx(989.01)
    out = normalize(np.array([[9.99, 989.01], [499.5, 2000.0]], np.float32), norm)
    np.testing.assert_allclose(out, [[0.0, 1.0], [0.5, (2000 - 9.99) / 979.02]], rtol=1e-5)


def test_stack_is_normalised_jointly() -> None:
    """One low/high for all planes: a plane twice as bright stays twice as bright."""
    plane = np.random.default_rng(0).random((16, 16)).astype(np.float32) + 1
    out = normalize(np.stack([plane, 2 * plane]), Normalization(0.0, 100.0))
    lo, hi = float(plane.min()), float(2 * plane.max())
    np.testing.assert_allclose(out[1], (2 * plane - lo) / (hi - lo), rtol=1e-5)


@given(z=st.integers(1, 4), h=st.integers(1, 40), w=st.integers(1, 40))
def test_pad_then_crop_round_trips_stacks(z: int, h: int, w: int) -> None:
    img = np.arange(z * h * w, dtype=np.float32).reshape(z, h, w)
    padded, shape = pad_to_multiple(img, 32)
    assert padded.shape[0] == z and padded.shape[1] % 32 == 0 and padded.shape[2] % 32 == 0
    np.testing.assert_array_equal(crop(padded, shape), img)


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [((8, 8), "stack of 3 planes"), ((2, 8, 8), "stack of 3 planes"), ((3, 8, 8), None)],
)
def test_check_image_counts_planes(shape: tuple[int, ...], fragment: str | None) -> None:
    problem = check_image(np.zeros(shape, np.float32), planes=3)
    assert problem is None if fragment is None else (problem is not None and fragment in problem)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"low_value": 1.0}, "both"),
        ({"low_value": 2.0, "high_value": 1.0}, "low < high"),
        ({"low_value": float("nan"), "high_value": 1.0}, "finite"),
    ],
)
def test_bad_fixed_values_rejected(kwargs: dict[str, float], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Normalization(**kwargs)  # type: ignore[arg-type]

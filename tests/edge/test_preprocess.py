import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.preprocess import Normalization, check_image, crop, normalize, pad_to_multiple


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

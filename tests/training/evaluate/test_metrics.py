"""The metrics against independent references (numpy, skimage, scipy) and known values."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from skimage.metrics import structural_similarity

from training.evaluate.metrics import (
    image_metrics,
    js_distance,
    mae,
    ms_ssim,
    mutual_information_bits,
    nrmse,
    pearson_r,
    psnr_db,
    ssim,
)

RNG = np.random.default_rng(0)
T = RNG.random((64, 64))
P = T + RNG.normal(0, 0.1, T.shape)


def test_pearson_matches_numpy() -> None:
    assert pearson_r(P, T) == pytest.approx(np.corrcoef(P.ravel(), T.ravel())[0, 1], abs=1e-12)


def test_psnr_nrmse_mae_of_known_error() -> None:
    t = np.zeros((10, 10))
    t[0, 0] = 1.0
    assert psnr_db(t + 0.1, t) == pytest.approx(20.0)
    assert nrmse(t + 0.1, t) == pytest.approx(0.1)
    assert mae(t + 0.1, t) == pytest.approx(0.1)


def test_ssim_equals_skimage_gaussian_ssim() -> None:
    ref = structural_similarity(
        P,
        T,
        data_range=T.max() - T.min(),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim(P, T) == pytest.approx(ref, abs=1e-9)


def test_ms_ssim_is_one_for_identity_and_orders_noise_levels() -> None:
    assert ms_ssim(T, T) == pytest.approx(1.0)
    assert ms_ssim(T + RNG.normal(0, 0.05, T.shape), T) > ms_ssim(P, T)


def test_three_dimensional_inputs() -> None:
    t3 = RNG.random((16, 64, 64))
    m = image_metrics(t3, t3)
    assert m["ssim"] == pytest.approx(1.0) and m["ms_ssim"] == pytest.approx(1.0)
    assert m["js_distance"] == pytest.approx(0.0) and m["pearson_r"] == pytest.approx(1.0)


def test_js_distance_matches_scipy_on_the_same_histograms() -> None:
    edges = np.linspace(min(P.min(), T.min()), max(P.max(), T.max()), 257)
    hp, _ = np.histogram(P, edges)
    ht, _ = np.histogram(T, edges)
    assert js_distance(P, T) == pytest.approx(jensenshannon(hp, ht, base=2), abs=1e-9)


def test_mutual_information_of_an_image_with_itself_is_its_entropy() -> None:
    """Two equiprobable levels: H = 1 bit; an independent image shares (almost) none."""
    half = np.repeat([0.0, 1.0], 2048).reshape(64, 64)
    assert mutual_information_bits(half, half) == pytest.approx(1.0)
    assert mutual_information_bits(RNG.permutation(half.ravel()).reshape(64, 64), half) < 0.01

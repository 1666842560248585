import numpy as np
import pytest

from training.metrics import pearson_r, psnr_db, ssim


def test_pearson_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((32, 32)), rng.random((32, 32))
    assert pearson_r(a, b + a) == pytest.approx(
        np.corrcoef(a.ravel(), (b + a).ravel())[0, 1], abs=1e-12
    )


def test_psnr_of_known_error() -> None:
    t = np.zeros((10, 10))
    t[0, 0] = 1.0
    assert psnr_db(t + 0.1, t) == pytest.approx(20.0)


def test_ssim_is_one_for_identity_and_lower_for_noise() -> None:
    rng = np.random.default_rng(0)
    t = rng.random((64, 64))
    assert ssim(t, t) == pytest.approx(1.0)
    assert ssim(t + rng.normal(0, 0.2, t.shape), t) < 0.9

import numpy as np
import pytest

from training.metrics import nucleus_recall, pearson_r, psnr_db


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


def test_nucleus_recall_counts_missed_faint_nucleus() -> None:
    labels = np.zeros((20, 20), np.int32)
    labels[2:6, 2:6], labels[10:14, 10:14] = 1, 2
    target = np.where(labels == 1, 1.0, 0.0) + np.where(labels == 2, 0.1, 0.0)
    pred = np.where(labels == 1, 0.9, 0.0)  # the faint nucleus 2 is missed
    np.testing.assert_array_equal(nucleus_recall(pred, target, labels), [True, False])

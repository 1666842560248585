import numpy as np
import pytest

from training.evaluate.nuclei import nucleus_stats, summarize


def _discs(centres: list[tuple[int, int]], radii: list[int]) -> np.ndarray:
    yy, xx = np.mgrid[:80, :80]
    out = np.zeros((80, 80), np.int32)
    for i, ((cy, cx), r) in enumerate(zip(centres, radii, strict=True), 1):
        out[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = i
    return out


def _hausdorff_ref(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Hausdorff distance of the two masks' boundary pixels (scipy reference)."""
    from scipy.ndimage import binary_erosion
    from scipy.spatial.distance import directed_hausdorff

    pa, pb = np.argwhere(a & ~binary_erosion(a)), np.argwhere(b & ~binary_erosion(b))
    return max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])


def test_known_shift_area_and_count_errors() -> None:
    true = _discs([(20, 20), (60, 60)], [8, 8])
    pred = _discs([(20, 22), (60, 60), (20, 60)], [8, 10, 5])  # shifted, larger, one extra
    target = (true > 0).astype(np.float32)
    s = summarize([nucleus_stats((pred > 0).astype(np.float32), target, true, pred)])
    assert s["recall"] == 1.0 and s["precision"] == pytest.approx(2 / 3)
    assert s["count_error_rel"] == pytest.approx(0.5)
    assert s["centroid_error_px"] == pytest.approx(1.0, abs=0.05)  # (2 + 0) / 2
    area_big = ((np.mgrid[:21, :21] - 10) ** 2).sum(0) <= 100
    area_true = ((np.mgrid[:17, :17] - 8) ** 2).sum(0) <= 64
    expected = (area_big.sum() - area_true.sum()) / area_true.sum() / 2
    assert s["area_error_rel"] == pytest.approx(expected)
    ref = np.mean([_hausdorff_ref(true == 1, pred == 1), _hausdorff_ref(true == 2, pred == 2)])
    assert s["hausdorff_px"] == pytest.approx(ref)
    assert 1.9 < ref < 2.4  # a 2 px shift and a 2 px larger radius, pixelated


def test_perfect_prediction_and_faint_quartile() -> None:
    true = _discs([(15, 15), (15, 60), (60, 15), (60, 60)], [6, 6, 6, 6])
    intensity = np.array([1.0, 1.0, 1.0, 0.1])
    pred = true.copy()
    pred[true == 4] = 0  # the faint one is missed
    target = intensity[np.maximum(true - 1, 0)] * (true > 0)
    s = summarize([nucleus_stats(target.astype(np.float32), target, true, pred, intensity)])
    assert s["recall"] == 0.75 and s["precision"] == 1.0
    assert s["faint_quartile_recall"] == 0.0
    assert s["intensity_r"] == pytest.approx(1.0) and s["centroid_error_px"] == 0.0

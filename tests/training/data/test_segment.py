import numpy as np
import pytest

from training.data.segment import relabel, segment_nuclei, segment_otsu
from training.evaluate.nuclei import iou_matrix, match


def _discs(centres: list[tuple[int, int]], r: int, shape: tuple[int, int] = (96, 96)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape, np.int32)
    for i, (cy, cx) in enumerate(centres, 1):
        out[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = i
    return out


def test_iou_matrix_of_known_overlap() -> None:
    a = np.zeros((4, 4), np.int32)
    b = np.zeros((4, 4), np.int32)
    a[:2, :2] = 1  # 4 px
    b[:2, 1:3] = 1  # 4 px, 2 shared
    assert iou_matrix(a, b)[0, 0] == pytest.approx(2 / 6)


def _domes(centres: list[tuple[int, int]], r: int, peaks: list[float]) -> np.ndarray:
    """Nuclei as DAPI sees them: dome profiles (projected thickness), each its own brightness."""
    yy, xx = np.mgrid[:96, :96]
    img = np.zeros((96, 96), np.float32)
    for (cy, cx), p in zip(centres, peaks, strict=True):
        img += p * np.sqrt(np.clip(1 - ((yy - cy) ** 2 + (xx - cx) ** 2) / r**2, 0, None))
    return img + 0.002 * np.random.default_rng(0).random(img.shape).astype(np.float32)


@pytest.mark.parametrize("method", ["halfmax", "otsu"])
def test_segmentation_splits_touching_nuclei(method: str) -> None:
    centres = [(30, 30), (30, 49), (70, 70)]  # the first two touch
    labels = _discs(centres, 10)
    seg = segment_nuclei(_domes(centres, 10, [1.0, 1.0, 1.0]), method)
    m = match(labels, seg)
    assert seg.max() == 3 and m.recall == 1.0 and m.precision == 1.0


def test_halfmax_finds_a_nucleus_20x_fainter_than_its_neighbour_and_otsu_does_not() -> None:
    """The reason half-max is the detection default: the cut is per nucleus."""
    centres = [(30, 30), (70, 70)]
    labels = _discs(centres, 10)
    image = _domes(centres, 10, [1.0, 0.05])
    assert match(labels, segment_nuclei(image, "halfmax")).recall == 1.0
    assert match(labels, segment_otsu(image)).recall == 0.5


def test_matching_needs_iou_half_and_is_one_to_one() -> None:
    true = _discs([(30, 30)], 10)
    shifted = _discs([(30, 42)], 10)  # IoU well under 0.5
    assert match(true, shifted).recall == 0.0
    both = _discs([(30, 30), (31, 31)], 10)  # two predictions on one nucleus
    both[both == 2] = 2
    m = match(true, relabel(both))
    assert m.true_matched.sum() == 1 and m.pred_matched.sum() <= 1


def test_empty_images() -> None:
    empty = np.zeros((32, 32), np.int32)
    assert segment_nuclei(np.zeros((32, 32), np.float32)).max() == 0
    assert segment_otsu(np.zeros((32, 32), np.float32)).max() == 0
    m = match(empty, empty)
    assert m.true_matched.size == 0 and np.isnan(m.recall)

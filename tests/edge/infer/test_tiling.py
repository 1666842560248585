import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.errors import ConfigError
from edge.infer.model import LoadedModel, SessionConfig, default_model_path, load_model
from edge.infer.stainer import Stainer
from edge.infer.tiling import plan


@given(
    h=st.integers(1, 300),
    w=st.integers(1, 300),
    tile=st.sampled_from([32, 64, 96]),
    halo=st.sampled_from([0, 32, 64]),
)
def test_plan_covers_every_pixel_once_with_aligned_windows(
    h: int, w: int, tile: int, halo: int
) -> None:
    cover = np.zeros((h, w), np.int32)
    for t in plan((h, w), tile, halo, 32):
        cover[t.core] += 1
        assert t.window[0].start % 32 == 0 and t.window[1].start % 32 == 0
        win = np.zeros((h, w), bool)
        win[t.window] = True
        core = np.zeros((h, w), bool)
        core[t.core] = True
        assert win[core].all()  # the core lies inside its window
    assert (cover == 1).all()


@pytest.mark.parametrize("shape", [(600, 700), (333, 1000)])
def test_tiled_staining_equals_whole_frame(shape: tuple[int, int]) -> None:
    """With the card's halo (effective receptive field), stitching is exact up to float
    rounding: tolerance 1e-4 on outputs of order 1 (measured: ~1e-6)."""
    model = load_model(default_model_path("fp32"), SessionConfig())
    image = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    whole = Stainer(model).stain(image)
    tiled = Stainer(model, tile_px=256).stain(image)
    for name in whole:
        assert tiled[name].shape == shape
        np.testing.assert_allclose(tiled[name], whole[name], atol=1e-4)


def test_tile_must_be_a_stride_multiple(shipped_int8: LoadedModel) -> None:
    with pytest.raises(ConfigError, match=r"model\.tile_px"):
        Stainer(shipped_int8, tile_px=100)


def test_a_frame_over_the_pixel_budget_runs_in_tiles_even_without_tile_px() -> None:
    """Issue 14: a 268-megapixel frame ran whole by default; above ``whole_frame_max_px``
    the stainer now tiles by itself, with the same result as a whole-frame run."""
    model = load_model(default_model_path("fp32"), SessionConfig())
    image = np.random.default_rng(1).standard_normal((600, 700)).astype(np.float32)
    whole = Stainer(model).stain(image)
    budget = Stainer(model, whole_frame_max_px=100_000, auto_tile_px=256)
    runs: list[tuple[int, ...]] = []
    inner = budget._run

    def counted(x: np.ndarray) -> dict[str, np.ndarray]:
        runs.append(x.shape)
        return inner(x)

    budget._run = counted  # type: ignore[method-assign]
    tiled = budget.stain(image)
    assert len(runs) == 9  # 3 x 3 tiles of 256 px (each with the halo)
    for name in whole:
        np.testing.assert_allclose(tiled[name], whole[name], atol=1e-4)
    assert len(runs) == 9
    budget.stain(image[:300, :300])  # under the budget: one whole run
    assert len(runs) == 10 and runs[-1][-2:] == (320, 320)

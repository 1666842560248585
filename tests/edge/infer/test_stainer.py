import numpy as np
import pytest

from edge.infer.model import LoadedModel
from edge.infer.stainer import Stainer


@pytest.mark.parametrize("shape", [(64, 64), (70, 45), (33, 130)])
def test_outputs_match_frame_shape_and_leave_input_untouched(
    shipped_int8: LoadedModel, shape: tuple[int, int]
) -> None:
    frame = np.random.default_rng(0).integers(0, 4096, shape).astype(np.uint16)
    before = frame.copy()
    out = Stainer(shipped_int8).stain(frame)
    np.testing.assert_array_equal(frame, before)
    assert set(out) == {"dapi", "sigma"}
    for arr in out.values():
        assert arr.shape == shape and arr.dtype == np.float32 and np.all(np.isfinite(arr))
    assert np.all(out["sigma"] > 0)


def test_deterministic(shipped_int8: LoadedModel) -> None:
    frame = np.random.default_rng(1).standard_normal((64, 96)).astype(np.float32)
    s = Stainer(shipped_int8)
    np.testing.assert_array_equal(s.stain(frame)["dapi"], s.stain(frame)["dapi"])


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 8, 8)), np.full((8, 8), np.nan, np.float32), np.zeros((0, 0))]
)
def test_bad_frames_raise_value_error(shipped_int8: LoadedModel, bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        Stainer(shipped_int8).stain(bad)


def test_io_binding_path_gives_the_plain_run_outputs(shipped_int8) -> None:  # type: ignore[no-untyped-def]
    """The GPU path (io-binding, used with CUDAExecutionProvider) exercised on the CPU."""
    from edge.infer.stainer import Stainer

    image = np.random.default_rng(3).standard_normal((96, 128)).astype(np.float32)
    plain, bound = Stainer(shipped_int8), Stainer(shipped_int8)
    bound._io_binding = True
    a, b = plain.stain(image), bound.stain(image)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])

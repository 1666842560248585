import pytest
import torch

from training.models.aglu import AGLU
from training.models.blocks import AttentionGate


@pytest.mark.parametrize(("h", "w"), [(32, 32), (64, 96)])
def test_forward_shapes_and_positive_sigma(h: int, w: int) -> None:
    model = AGLU((4, 8, 8), 4, 8).eval()
    with torch.no_grad():
        dapi, sigma = model(torch.randn(2, 1, h, w))
    assert dapi.shape == sigma.shape == (2, 1, h, w)
    assert torch.all(sigma > 0)


def test_deterministic_in_eval_mode() -> None:
    model = AGLU((4, 8, 8), 4, 8).eval()
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x)[0], model(x)[0])


def test_attention_gate_scales_skip_within_0_and_1() -> None:
    gate = AttentionGate(4, 8, 2)
    skip = torch.rand(1, 4, 8, 8) + 0.1
    out = gate(skip, torch.randn(1, 8, 4, 4))
    ratio = out / skip
    assert torch.all(ratio >= 0) and torch.all(ratio <= 1)


def test_stride_matches_architecture() -> None:
    """Inputs not divisible by stride_px fail; divisible ones pass (stride is not overstated)."""
    model = AGLU((4, 8, 8), 4, 8).eval()
    with torch.no_grad():
        model(torch.randn(1, 1, AGLU.stride_px, AGLU.stride_px))
        with pytest.raises(RuntimeError):
            model(torch.randn(1, 1, AGLU.stride_px + 8, AGLU.stride_px))


def test_skip_gate_weights_the_fine_skip_by_a_coarse_map_within_0_and_1() -> None:
    """The attention map is computed at the gate's resolution: it is constant on 2x2 blocks."""
    from training.models.blocks import SkipGate

    gate = SkipGate(4, 8, 2)
    skip = torch.rand(1, 4, 8, 8) + 0.1
    ratio = gate(skip, torch.randn(1, 8, 4, 4)) / skip
    assert torch.all(ratio >= 0) and torch.all(ratio <= 1)
    assert torch.allclose(ratio[..., ::2, ::2], ratio[..., 1::2, 1::2])
    assert torch.allclose(ratio[:, 0], ratio[:, 3])  # one map for every channel


@pytest.mark.parametrize("planes", [1, 13])
def test_multi_plane_input(planes: int) -> None:
    model = AGLU((4, 8, 8), 4, 8, in_planes=planes).eval()
    with torch.no_grad():
        dapi, sigma = model(torch.randn(1, planes, 64, 64))
    assert dapi.shape == sigma.shape == (1, 1, 64, 64)

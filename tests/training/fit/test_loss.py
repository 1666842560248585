import torch

from training.config import LossSection
from training.fit.loss import laplace_nll, recall_weighted_l1


def test_under_prediction_in_nuclei_costs_more_than_over_prediction() -> None:
    cfg = LossSection(nucleus_weight=10, under_factor=2)
    target = torch.full((1, 1, 4, 4), 0.5)
    mask = torch.zeros_like(target)
    mask[..., :2, :] = 1
    under = target - 0.1 * mask
    over = target + 0.1 * mask
    assert recall_weighted_l1(under, target, mask, cfg) > recall_weighted_l1(
        over, target, mask, cfg
    )


def test_nucleus_errors_weigh_w_times_background_errors() -> None:
    cfg = LossSection(nucleus_weight=20, under_factor=1)
    target = torch.zeros(1, 1, 2, 1)
    mask = torch.tensor([1.0, 0.0]).view(1, 1, 2, 1)
    err_in = recall_weighted_l1(target + torch.tensor([0.1, 0]).view(1, 1, 2, 1), target, mask, cfg)
    err_out = recall_weighted_l1(
        target + torch.tensor([0, 0.1]).view(1, 1, 2, 1), target, mask, cfg
    )
    assert torch.isclose(err_in / err_out, torch.tensor(20.0))


def test_nll_is_minimised_at_the_true_scale() -> None:
    """For Laplace errors of scale b, E[|e|/s + log s] is minimal at s = b (here b = 0.2)."""
    torch.manual_seed(0)
    target = torch.distributions.Laplace(0.0, 0.2).sample((20000,))
    pred = torch.zeros_like(target)
    scales = torch.tensor([0.1, 0.15, 0.2, 0.25, 0.3])
    losses = torch.stack([laplace_nll(pred, target, torch.full_like(target, s)) for s in scales])
    assert scales[losses.argmin()] == 0.2


def test_recall_mse_weighs_nucleus_errors_w_times_and_under_prediction_more() -> None:
    from training.fit.loss import recall_weighted_mse

    cfg = LossSection(nucleus_weight=5, under_factor=2)
    target = torch.zeros(1, 1, 2, 1)
    mask = torch.tensor([1.0, 0.0]).view(1, 1, 2, 1)
    inside = recall_weighted_mse(
        target + torch.tensor([0.1, 0]).view(1, 1, 2, 1), target, mask, cfg
    )
    outside = recall_weighted_mse(
        target + torch.tensor([0, 0.1]).view(1, 1, 2, 1), target, mask, cfg
    )
    under = recall_weighted_mse(target - torch.tensor([0.1, 0]).view(1, 1, 2, 1), target, mask, cfg)
    assert torch.isclose(inside / outside, torch.tensor(5.0))
    assert under > inside


def test_warm_up_is_plain_then_ramps_to_the_recipe() -> None:
    from training.fit.loss import ramp

    cfg = LossSection(nucleus_weight=9, under_factor=3, warmup_steps=100)
    assert (ramp(cfg, 50).nucleus_weight, ramp(cfg, 50).under_factor) == (1.0, 1.0)
    assert ramp(cfg, 150).nucleus_weight == 5.0 and ramp(cfg, 150).under_factor == 2.0
    assert ramp(cfg, 10_000) == cfg


def test_torch_ssim_equals_the_metric() -> None:
    """The training SSIM term and training.evaluate.metrics.ssim are the same quantity (1e-5)."""
    import numpy as np

    from training.evaluate.metrics import ssim
    from training.fit.loss import ssim_index

    g = torch.Generator().manual_seed(0)
    a = torch.rand(1, 1, 48, 64, generator=g)
    b = (a + 0.3 * torch.rand(1, 1, 48, 64, generator=g)).clamp(0, 1)
    expected = ssim(a[0, 0].numpy().astype(np.float64), b[0, 0].numpy(), data_range=1.0)
    assert abs(float(ssim_index(a, b)) - expected) < 1e-5

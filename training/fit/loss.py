"""Losses: recall-weighted pixel L1 (asymmetric), SSIM, Laplace NLL for sigma, and the
auxiliary VAE terms.

The nucleus weight map (``training.data.weight_map``) is 0 outside nuclei and a
nucleus' relative weight inside (1, or median/own intensity with
``loss.per_nucleus``). A warm-up (``loss.warmup_steps``) trains on plain L1
first and then ramps W and the under-prediction factor up linearly, so the
model learns where cells are before it is pushed to paint nuclei.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from training.config import LossSection

SSIM_SIGMA_PX = 1.5  # as training.evaluate.metrics.ssim: Gaussian window, 11 px wide
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # data range 1 (normalised targets)


def ramp(cfg: LossSection, step: int) -> LossSection:
    """The recipe's loss at ``step``: W = 1 and no asymmetry during the warm-up, then a
    linear ramp to the recipe's values over as many steps again."""
    if cfg.warmup_steps == 0:
        return cfg
    t = min(max(step - cfg.warmup_steps, 0) / cfg.warmup_steps, 1.0)
    return cfg.model_copy(
        update={
            "nucleus_weight": 1.0 + (cfg.nucleus_weight - 1.0) * t,
            "under_factor": 1.0 + (cfg.under_factor - 1.0) * t,
        }
    )


def recall_weights(err: torch.Tensor, mask: torch.Tensor, cfg: LossSection) -> torch.Tensor:
    """Pixel weight 1 in background and 1 + (W - 1) x the nucleus' relative weight inside;
    under-prediction in nuclei x under_factor."""
    weight = 1.0 + (cfg.nucleus_weight - 1.0) * mask
    return weight * torch.where((mask > 0) & (err < 0), cfg.under_factor, 1.0)


def recall_weighted_l1(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, cfg: LossSection
) -> torch.Tensor:
    """Recall-weighted mean absolute error (``recall_weights``)."""
    err = pred - target
    weight = recall_weights(err, mask, cfg)
    return (weight * err.abs()).sum() / weight.sum()


def recall_weighted_mse(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, cfg: LossSection
) -> torch.Tensor:
    """Recall-weighted mean squared error. Unlike L1, whose optimum is the median (the
    background, on a sparse field: the model learns to paint nothing or a flat haze),
    squared error keeps a gradient toward every nucleus."""
    err = pred - target
    weight = recall_weights(err, mask, cfg)
    return (weight * err * err).sum() / weight.sum()


def _gaussian_1d(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    r = torch.arange(-5, 6, dtype=torch.float32, device=device)
    g = torch.exp(-(r**2) / (2 * SSIM_SIGMA_PX**2))
    return (g / g.sum()).to(dtype)


def ssim_index(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of (B, 1, H, W) images with data range 1 (valid region of the window).

    The five local statistics are blurred in one separable depthwise convolution.
    """
    g = _gaussian_1d(pred.device, pred.dtype)
    stats = torch.cat([pred, target, pred * pred, target * target, pred * target], 1)
    stats = F.conv2d(stats, g.view(1, 1, 1, -1).expand(5, 1, 1, -1), groups=5)
    mx, my, xx, yy, xy = F.conv2d(stats, g.view(1, 1, -1, 1).expand(5, 1, -1, 1), groups=5).unbind(
        1
    )
    vx, vy, cov = xx - mx * mx, yy - my * my, xy - mx * my
    num = (2 * mx * my + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mx * mx + my * my + SSIM_C1) * (vx + vy + SSIM_C2)
    return (num / den).mean()


def laplace_nll(pred: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Laplace NLL for the uncertainty head; the mean is detached so only sigma learns here."""
    return (torch.abs(pred.detach() - target) / sigma + torch.log(sigma)).mean()


def pixel_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, cfg: LossSection
) -> torch.Tensor:
    if cfg.pixel == "recall_l1":
        return recall_weighted_l1(pred, target, mask, cfg)
    if cfg.pixel == "recall_mse":
        return recall_weighted_mse(pred, target, mask, cfg)
    return torch.mean((pred - target) ** 2)


def dapi_terms(
    pred: torch.Tensor,
    sigma: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    cfg: LossSection,
) -> dict[str, torch.Tensor]:
    """The pixel-space terms every stage that decodes DAPI uses."""
    terms = {
        "pixel": pixel_loss(pred, target, mask, cfg),
        "nll": cfg.nll_weight * laplace_nll(pred, target, sigma),
    }
    if cfg.ssim_weight:
        terms["ssim"] = cfg.ssim_weight * (1.0 - ssim_index(pred.float(), target.float()))
    return terms


def total(terms: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    loss = torch.stack(list(terms.values())).sum()
    stats = {k: float(v.detach()) for k, v in terms.items()}
    stats["loss"] = float(loss.detach())
    return loss, stats

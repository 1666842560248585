"""Losses: recall-weighted pixel L1 (asymmetric), Laplace NLL for sigma, latent L1, KL."""

from __future__ import annotations

import torch

from training.config import LossSection


def recall_weighted_l1(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, cfg: LossSection
) -> torch.Tensor:
    """Pixel weight 1 in background and W in nuclei; under-prediction in nuclei x under_factor."""
    err = pred - target
    weight = 1.0 + (cfg.nucleus_weight - 1.0) * mask
    weight = weight * torch.where((mask > 0) & (err < 0), cfg.under_factor, 1.0)
    return (weight * err.abs()).sum() / weight.sum()


def laplace_nll(pred: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Laplace NLL for the uncertainty head; the mean is detached so only sigma learns here."""
    return (torch.abs(pred.detach() - target) / sigma + torch.log(sigma)).mean()


def dapi_terms(
    pred: torch.Tensor,
    sigma: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    cfg: LossSection,
) -> dict[str, torch.Tensor]:
    """The pixel-space terms every stage that decodes DAPI uses."""
    pixel = (
        recall_weighted_l1(pred, target, mask, cfg)
        if cfg.pixel == "recall_l1"
        else torch.mean((pred - target) ** 2)
    )
    return {
        "pixel": pixel,
        "nll": cfg.nll_weight * laplace_nll(pred, target, sigma),
    }


def total(terms: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    loss = torch.stack(list(terms.values())).sum()
    stats = {k: float(v.detach()) for k, v in terms.items()}
    stats["loss"] = float(loss.detach())
    return loss, stats

"""The training stages: what each trains, and its loss.

Staged (the original recipe):
1. ``vae``: both VAEs learn to reconstruct their modality (KL-regularised; the
   DAPI reconstruction uses the recall weighting and learns sigma).
2. ``translator``: on frozen VAEs, map input latent means to DAPI latent means
   (latent L1) and decode through the frozen DAPI decoder (recall-weighted L1).
3. ``joint``: fine-tune the inference path (input encoder, translator, DAPI
   decoder) end to end; the frozen DAPI encoder still provides latent targets.

One schedule (``end_to_end``, for real data): everything trains at once; the
inference path's DAPI loss leads, and the VAE reconstructions, KL and the latent
match are auxiliary terms that keep the latent spaces meaningful. The DAPI VAE
decodes its own latent with the same input-encoder skips as the inference path
(the pairs are registered), so its decoder learns one job: latent + skips -> DAPI.

Wherever the DAPI decoder runs, it gets the input encoder's gated skips when the
model has them (``AGLU.encode``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from training.config import LossSection
from training.fit.loss import dapi_terms, pixel_loss
from training.models.aglu import AGLU
from training.models.vae import Skips, kl_divergence, sample

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # qpi, dapi, mask
LossFn = Callable[[Any, Batch, LossSection], dict[str, torch.Tensor]]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    trainable: tuple[str, ...]  # attribute paths of submodules ("" : the whole model)
    loss: LossFn

    def modules(self, model: nn.Module) -> list[nn.Module]:
        out = []
        for path in self.trainable:
            mod: nn.Module = model
            for part in filter(None, path.split(".")):
                mod = getattr(mod, part)
            out.append(mod)
        return out

    def prepare(self, model: nn.Module) -> list[nn.Parameter]:
        """Freeze everything but this stage's modules (frozen ones in eval mode: BN fixed)."""
        model.eval()
        model.requires_grad_(False)
        params: list[nn.Parameter] = []
        for mod in self.modules(model):
            mod.train()
            mod.requires_grad_(True)
            params += list(mod.parameters())
        return params


def _vae_loss(model: AGLU, batch: Batch, cfg: LossSection) -> dict[str, torch.Tensor]:
    qpi, dapi, mask = batch
    q_rec, q_mean, q_logvar = model.qpi_vae(qpi)
    d_mean, d_logvar, _ = model.dapi_vae.encoder(dapi)
    skips = model.encode(qpi)[2]
    d_out = model.dapi_vae.decoder(sample(d_mean, d_logvar, model.dapi_vae.training), skips)
    d_pred, d_sigma = model.split_output(d_out)
    terms = dapi_terms(d_pred, d_sigma, dapi, mask, cfg)
    terms["qpi_rec"] = (q_rec - qpi).abs().mean()
    terms["kl"] = cfg.kl_weight * (
        kl_divergence(q_mean, q_logvar) + kl_divergence(d_mean, d_logvar)
    )
    return terms


def _latent_target(model: AGLU, dapi: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.dapi_vae.encoder(dapi)[0]


@dataclass(frozen=True, slots=True)
class InferencePath:
    """The inference path's intermediate results and its DAPI loss terms."""

    q_mean: torch.Tensor
    q_logvar: torch.Tensor
    skips: Skips | None
    z: torch.Tensor  # the translated (predicted DAPI) latent
    terms: dict[str, torch.Tensor]


def _inference_path(model: AGLU, batch: Batch, cfg: LossSection) -> InferencePath:
    qpi, dapi, mask = batch
    q_mean, q_logvar, skips = model.encode(qpi)
    z = model.translator(q_mean)
    pred, sigma = model.split_output(model.dapi_vae.decoder(z, skips))
    return InferencePath(q_mean, q_logvar, skips, z, dapi_terms(pred, sigma, dapi, mask, cfg))


def _translator_loss(model: AGLU, batch: Batch, cfg: LossSection) -> dict[str, torch.Tensor]:
    p = _inference_path(model, batch, cfg)
    latent = (p.z - _latent_target(model, batch[1])).abs().mean()
    return p.terms | {"latent": cfg.latent_weight * latent}


def _joint_loss(model: AGLU, batch: Batch, cfg: LossSection) -> dict[str, torch.Tensor]:
    p = _inference_path(model, batch, cfg)
    latent = (p.z - _latent_target(model, batch[1])).abs().mean()
    return p.terms | {
        "latent": 0.1 * cfg.latent_weight * latent,
        "kl": cfg.kl_weight * kl_divergence(p.q_mean, p.q_logvar),
    }


def _end_to_end_loss(model: AGLU, batch: Batch, cfg: LossSection) -> dict[str, torch.Tensor]:
    qpi, dapi, mask = batch
    p = _inference_path(model, batch, cfg)
    q_mean, q_logvar, skips, z, terms = p.q_mean, p.q_logvar, p.skips, p.z, dict(p.terms)
    d_mean, d_logvar, _ = model.dapi_vae.encoder(dapi)
    if cfg.dapi_rec_weight:
        rec, _ = model.split_output(model.dapi_vae.decoder(sample(d_mean, d_logvar, True), skips))
        terms["dapi_rec"] = cfg.dapi_rec_weight * pixel_loss(rec, dapi, mask, cfg)
    if cfg.qpi_rec_weight:
        q_rec = model.qpi_vae.decoder(sample(q_mean, q_logvar, True))
        terms["qpi_rec"] = cfg.qpi_rec_weight * (q_rec - qpi).abs().mean()
    terms["kl"] = cfg.kl_weight * (
        kl_divergence(q_mean, q_logvar) + kl_divergence(d_mean, d_logvar)
    )
    terms["latent"] = cfg.latent_weight * (z - d_mean.detach()).abs().mean()
    return terms


def _pixel_loss(model: nn.Module, batch: Batch, cfg: LossSection) -> dict[str, torch.Tensor]:
    qpi, dapi, mask = batch
    pred, sigma = model(qpi)
    return dapi_terms(pred, sigma, dapi, mask, cfg)


PIXEL_STAGE = Stage("pixel", ("",), _pixel_loss)  # the U-Net baseline: one end-to-end stage

STAGES = (
    Stage("vae", ("qpi_vae", "dapi_vae"), _vae_loss),
    Stage("translator", ("translator",), _translator_loss),
    Stage("joint", ("qpi_vae.encoder", "translator", "dapi_vae.decoder"), _joint_loss),
    Stage("end_to_end", ("",), _end_to_end_loss),
)


class StageLoss(nn.Module):
    """The stage's loss as a module, so DDP's forward (and its gradient sync) wraps it."""

    def __init__(self, model: nn.Module, stage: Stage, cfg: LossSection) -> None:
        super().__init__()
        self.model, self.stage, self.cfg = model, stage, cfg

    def forward(
        self, qpi: torch.Tensor, dapi: torch.Tensor, mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return self.stage.loss(self.model, (qpi, dapi, mask), self.cfg)

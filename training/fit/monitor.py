"""What training watches on the validation split: stage loss, Pearson r, sample figures.

Model selection (``optim.val_every``) scores the prediction of every validation
field whole (padded to the model stride): the mean over validation experiments of
each one's mean per-field Pearson r, so the kept weights are the ones that predict
best on experiments the model never trained on, each experiment counted once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from training.config import TrainConfig
from training.data.fields import Fields
from training.data.readers.base import DataError
from training.evaluate import plots
from training.evaluate.metrics import pearson_r
from training.fit.loss import total
from training.fit.stages import Stage
from training.models.predict import predict_field, stride_of

F32 = npt.NDArray[np.float32]


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Every module in eval mode and no gradients; each module's mode restored after."""
    was = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, t in was.items():
            m.train(t)


def val_score(model: nn.Module, val: Fields, device: torch.device) -> float:
    """The selection score: the mean over validation experiments of each experiment's mean
    per-field Pearson r (the headline metric of ``aglu-train crossval``), so one experiment
    with many bright pixels cannot decide alone. NaN when no field has contrast."""
    with evaluating(model):
        rs = [
            pearson_r(predict_field(model, q, device)[0], t)
            for q, t in zip(val.qpi, val.dapi, strict=True)
        ]
    return experiment_mean(rs, [val.experiment(i) for i in range(len(rs))])


def experiment_mean(values: list[float], experiments: list[str]) -> float:
    """Mean over experiments of the mean of each one's finite values (NaN when none)."""
    by: dict[str, list[float]] = {}
    for v, e in zip(values, experiments, strict=True):
        if np.isfinite(v):
            by.setdefault(e, []).append(v)
    return float(np.mean([np.mean(v) for v in by.values()])) if by else float("nan")


def val_loss(
    stage: Stage, model: nn.Module, val: Fields, cfg: TrainConfig, device: torch.device
) -> float:
    """Stage loss on top-left crops of every validation field, all modules in eval mode.

    The crop is the crop size, or less where a field is smaller (e.g. a narrow
    validation strip of one real image), rounded down to the model stride.
    """
    stride = stride_of(model)
    c = min(cfg.data.crop_px, *(min(a.shape) for a in val.dapi)) // stride * stride
    if c == 0:
        raise DataError("validation data", f"a field is smaller than the model stride {stride} px")
    with evaluating(model):
        q = torch.from_numpy(np.stack([a[:, :c, :c] for a in val.qpi])).to(device)
        d, m = (
            torch.from_numpy(np.stack([a[:c, :c] for a in arrs])[:, None]).to(device)
            for arrs in (val.dapi, val.mask)
        )
        loss, _ = total(stage.loss(model, (q, d, m), cfg.loss))
    return float(loss)


def figures(
    stage: Stage,
    model: nn.Module,
    val: Fields,
    history: list[dict[str, float]],
    out_dir: Path,
    device: torch.device,
    cfg: TrainConfig,
) -> None:
    """``NAME-loss.png`` and ``NAME-samples.png`` (input | true | predicted | sigma)."""
    from edge.infer.card import MODALITY_NAMES
    from training.models.aglu import AGLU

    plots.loss_curve(history, out_dir / f"{stage.name}-loss.png", f"stage {stage.name}")
    rows = []
    with evaluating(model):
        for i in range(min(3, len(val.qpi))):
            q, d = val.qpi[i], val.dapi[i]
            # After the VAE stage the translator is untrained: show the DAPI VAE's reconstruction.
            if isinstance(model, AGLU) and stage.name == "vae":
                stride = model.stride_px
                h, w = (s // stride * stride for s in d.shape)
                mean = model.dapi_vae.encoder(torch.from_numpy(d[None, None, :h, :w]).to(device))[0]
                skips = model.encode(torch.from_numpy(q[None, :, :h, :w]).to(device))[2]
                out, sig = model.split_output(model.dapi_vae.decoder(mean, skips))
                pred, sigma = out[0, 0].cpu().numpy(), sig[0, 0].cpu().numpy()
                q, d = q[:, :h, :w], d[:h, :w]
            else:
                pred, sigma = predict_field(model, q, device)
            rows.append((q[q.shape[0] // 2], d, pred, sigma))
    third = "DAPI VAE reconstruction" if stage.name == "vae" else "predicted DAPI"
    first = f"input ({MODALITY_NAMES[cfg.data.modality]})"
    plots.sample_panel(
        rows, out_dir / f"{stage.name}-samples.png", f"after stage {stage.name}", third, first
    )

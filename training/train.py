"""The training loop: simulated pairs -> AGLU, recall-weighted, checkpointed with its recipe."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from training.config import TrainConfig
from training.data import PairedFields, random_batch, simulated_fields
from training.loss import total_loss
from training.models import AGLU

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FitResult:
    checkpoint: Path
    steps: int
    final_loss: float
    val_loss: float
    wall_s: float


def build_model(cfg: TrainConfig) -> AGLU:
    m = cfg.model
    return AGLU(m.encoder_widths, m.latent_channels, m.translator_width)


def _val_loss(model: AGLU, val: PairedFields, cfg: TrainConfig) -> float:
    model.eval()
    side = (min(val.qpi.shape[1:]) // AGLU.stride_px) * AGLU.stride_px
    with torch.no_grad():
        x = torch.from_numpy(val.qpi[:, None, :side, :side])
        y = torch.from_numpy(val.dapi[:, None, :side, :side])
        mk = torch.from_numpy(val.mask[:, None, :side, :side])
        pred, sigma = model(x)
        loss, _ = total_loss(pred, sigma, y, mk, cfg.loss)
    model.train()
    return float(loss)


def fit(cfg: TrainConfig, out_dir: Path, progress: bool = True) -> FitResult:
    """Train for ``cfg.optim.steps`` (or the time limit); write checkpoint + resolved recipe."""
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.optim.seed)
    if cfg.optim.threads:
        torch.set_num_threads(cfg.optim.threads)
    rng = np.random.default_rng(cfg.optim.seed)
    train = simulated_fields(cfg.data, cfg.data.train_fields, seed_offset=0)
    val = simulated_fields(cfg.data, cfg.data.val_fields, seed_offset=1_000_000)
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.optim.lr, total_steps=cfg.optim.steps
    )
    history: list[dict[str, float]] = []
    t0 = time.monotonic()
    bar = tqdm(range(cfg.optim.steps), desc=f"fit {cfg.name}", disable=not progress)
    step = 0
    for step in bar:
        x, y, mk = (
            torch.from_numpy(a)
            for a in random_batch(train, cfg.optim.batch_size, cfg.data.crop_px, rng)
        )
        pred, sigma = model(x)
        loss, parts = total_loss(pred, sigma, y, mk, cfg.loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append(parts)
        bar.set_postfix(loss=f"{parts['loss']:.4f}")
        if cfg.optim.time_limit_s and time.monotonic() - t0 > cfg.optim.time_limit_s:
            logger.info("time limit %.0f s reached at step %d", cfg.optim.time_limit_s, step + 1)
            break
    val_loss = _val_loss(model, val, cfg)
    ckpt = out_dir / f"{cfg.name}.pt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "config": cfg.model_dump(mode="json"),
            "steps": step + 1,
            "history": history,
            "val_loss": val_loss,
        },
        ckpt,
    )
    (out_dir / "config.resolved.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=2))
    final = float(np.mean([h["loss"] for h in history[-50:]]))
    return FitResult(ckpt, step + 1, final, val_loss, time.monotonic() - t0)


def load_checkpoint(path: Path) -> tuple[AGLU, TrainConfig]:
    """Rebuild the model and its recipe from a checkpoint written by ``fit``."""
    from edge.errors import ModelError
    from training.config import parse_train_config

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(str(path), f"not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "config" not in ckpt:
        raise ModelError(str(path), "checkpoint lacks 'state_dict' or 'config'")
    cfg = parse_train_config(ckpt["config"], f"{path} config")
    model = build_model(cfg)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, cfg

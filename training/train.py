"""Staged, resumable training: VAEs -> translator -> joint; checkpoints carry the recipe.

Each stage writes ``stage-NAME.pt`` (model, optimizer, scheduler, RNG states,
history) every ``checkpoint_every`` steps, on Ctrl-C and at its end; a rerun
skips finished stages and resumes an unfinished one where it stopped. The final
``NAME.pt`` holds the weights and the resolved recipe, for export/evaluation.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from training import distributed, plots
from training.config import TrainConfig
from training.data import Fields, build_fields, random_batch
from training.datasets import DataError
from training.loss import total
from training.models import AGLU
from training.models.unet import UNet
from training.stages import PIXEL_STAGE, STAGES, Stage, StageLoss

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StageResult:
    name: str
    steps: int
    final_loss: float
    val_loss: float
    resumed_from: int


@dataclass(frozen=True, slots=True)
class FitResult:
    checkpoint: Path
    stages: tuple[StageResult, ...]
    wall_s: float
    interrupted: bool = False


Model = AGLU | UNet


def build_model(cfg: TrainConfig) -> Model:
    m = cfg.model
    if m.kind == "unet":
        return UNet(m.encoder_widths, m.unet_depth_width)
    return AGLU(m.encoder_widths, m.latent_channels, m.translator_width)


def stage_plan(cfg: TrainConfig) -> list[tuple[Stage, int]]:
    """(stage, steps) in order; stages with 0 steps are skipped."""
    if cfg.model.kind == "unet":
        plan = [(PIXEL_STAGE, cfg.stages.pixel_steps)]
    else:
        s = cfg.stages
        plan = list(zip(STAGES, (s.vae_steps, s.translator_steps, s.joint_steps), strict=True))
    return [(stage, n) for stage, n in plan if n > 0]


def _save(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # atomic: a crash never leaves a half-written checkpoint


def _autocast(cfg: TrainConfig, device: torch.device) -> Any:
    on = cfg.optim.amp == "on" or (cfg.optim.amp == "auto" and device.type == "cuda")
    if on and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _val_loss(
    stage: Stage, model: Model, val: Fields, cfg: TrainConfig, device: torch.device
) -> float:
    """Stage loss on top-left crops of every validation field, all modules in eval mode.

    The crop is the crop size, or less where a field is smaller (e.g. a narrow
    validation strip of one real image), rounded down to the model stride.
    """
    stride = model.stride_px
    c = min(cfg.data.crop_px, *(min(a.shape) for a in val.qpi)) // stride * stride
    if c == 0:
        raise DataError("validation data", f"a field is smaller than the model stride {stride} px")
    was = {m: m.training for m in model.modules()}
    model.eval()
    with torch.no_grad():
        batch = [
            torch.from_numpy(np.stack([a[:c, :c] for a in arrs])[:, None]).to(device)
            for arrs in (val.qpi, val.dapi, val.mask)
        ]
        loss, _ = total(stage.loss(model, (batch[0], batch[1], batch[2]), cfg.loss))
    for m, t in was.items():
        m.train(t)
    return float(loss)


def _figures(
    stage: Stage,
    model: Model,
    val: Fields,
    history: list[dict[str, float]],
    out_dir: Path,
    device: torch.device,
) -> None:
    plots.loss_curve(history, out_dir / f"{stage.name}-loss.png", f"stage {stage.name}")
    model.eval()
    rows = []
    with torch.no_grad():
        for i in range(min(3, len(val.qpi))):
            h, w = (s // model.stride_px * model.stride_px for s in val.qpi[i].shape)
            q, d = (
                torch.from_numpy(np.ascontiguousarray(a[:h, :w]))[None, None].to(device)
                for a in (val.qpi[i], val.dapi[i])
            )
            # After the VAE stage the translator is untrained: show the DAPI VAE's reconstruction.
            if isinstance(model, AGLU) and stage.name == "vae":
                pred, sigma = model.split_output(model.dapi_vae(d)[0])
            else:
                pred, sigma = model(q)
            rows.append(
                (
                    val.qpi[i][:h, :w],
                    val.dapi[i][:h, :w],
                    pred[0, 0].float().cpu().numpy(),
                    sigma[0, 0].float().cpu().numpy(),
                )
            )
    third = "DAPI VAE reconstruction" if stage.name == "vae" else "predicted DAPI"
    title = f"after stage {stage.name}"
    plots.sample_panel(rows, out_dir / f"{stage.name}-samples.png", title, third)


def run_stage(
    stage: Stage,
    steps: int,
    model: Model,
    data: tuple[Fields, Fields],
    cfg: TrainConfig,
    out_dir: Path,
    rt: distributed.Runtime,
    progress: bool,
    stop_after: int | None = None,
) -> StageResult | None:
    """Train one stage; None when ``stop_after`` interrupted it (checkpoint saved)."""
    train, val = data
    path = out_dir / f"stage-{stage.name}.pt"
    params = stage.prepare(model)
    opt = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.optim.lr, total_steps=steps)
    rng = np.random.default_rng([cfg.optim.seed, rt.rank, (*STAGES, PIXEL_STAGE).index(stage)])
    start, history = 0, []
    if path.exists():
        state = torch.load(path, map_location=rt.device, weights_only=True)
        model.load_state_dict(state["model"])
        start, history = state["step"], state["history"]
        if state["done"]:
            logger.info("stage %s already done (%d steps): skipped", stage.name, start)
            return StageResult(stage.name, start, history[-1]["loss"], state["val_loss"], start)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        logger.info("stage %s: resuming at step %d of %d", stage.name, start, steps)
    net: torch.nn.Module = StageLoss(model, stage, cfg.loss)
    if rt.world_size > 1:
        net = DistributedDataParallel(
            net, device_ids=[rt.device.index] if rt.device.type == "cuda" else None
        )

    def save(step: int, done: bool, val_loss: float = float("nan")) -> None:
        if rt.main:
            _save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "step": step,
                    "history": history,
                    "done": done,
                    "val_loss": val_loss,
                },
                path,
            )

    bar = tqdm(
        range(start, steps),
        initial=start,
        total=steps,
        desc=f"{cfg.name}: {stage.name}",
        disable=not (progress and rt.main),
    )
    step = start
    try:
        for step in bar:
            if stop_after is not None and step - start >= stop_after:
                save(step, done=False)
                return None
            batch = random_batch(train, cfg.optim.batch_size, cfg.data.crop_px, rng, cfg.augment)
            x, y, m = (torch.from_numpy(a).to(rt.device) for a in batch)
            with _autocast(cfg, rt.device):
                loss, stats = total(net(x, y, m))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            history.append(stats)
            bar.set_postfix(loss=f"{stats['loss']:.4f}")
            if (step + 1) % cfg.optim.checkpoint_every == 0:
                save(step + 1, done=False)
    except KeyboardInterrupt:
        save(len(history), done=False)
        raise
    val_loss = _val_loss(stage, model, val, cfg, rt.device)
    save(steps, done=True, val_loss=val_loss)
    if rt.main:
        _figures(stage, model, val, history, out_dir, rt.device)
    final = float(np.mean([h["loss"] for h in history[-50:]])) if history else float("nan")
    return StageResult(stage.name, steps, final, val_loss, start)


def fit(
    cfg: TrainConfig, out_dir: Path, progress: bool = True, stop_after: int | None = None
) -> FitResult:
    """Run every stage with steps > 0; write ``NAME.pt`` and ``config.resolved.json``."""
    rt = distributed.setup()
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.optim.seed + rt.rank)
    if cfg.optim.threads:
        torch.set_num_threads(cfg.optim.threads)
    t0 = time.monotonic()
    data = (build_fields(cfg, "train"), build_fields(cfg, "val"))
    model = build_model(cfg).to(rt.device)
    if rt.main:
        (out_dir / "config.resolved.json").write_text(
            json.dumps(cfg.model_dump(mode="json"), indent=2)
        )
    results: list[StageResult] = []
    ckpt = out_dir / f"{cfg.name}.pt"
    for stage, steps in stage_plan(cfg):
        res = run_stage(stage, steps, model, data, cfg, out_dir, rt, progress, stop_after)
        distributed.barrier()
        if res is None:
            return FitResult(ckpt, tuple(results), time.monotonic() - t0, interrupted=True)
        results.append(res)
    model.eval()
    if rt.main:
        _save(
            {
                "state_dict": model.state_dict(),
                "config": cfg.model_dump(mode="json"),
                "stages": [asdict(r) for r in results],
            },
            ckpt,
        )
    distributed.barrier()
    return FitResult(ckpt, tuple(results), time.monotonic() - t0)


def load_checkpoint(path: Path) -> tuple[Model, TrainConfig]:
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

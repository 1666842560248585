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

from training.config import TrainConfig
from training.data.augment import crop_stream, random_batch
from training.data.fields import Fields, build_fields
from training.fit import distributed, monitor
from training.fit.loss import ramp, total
from training.fit.progress import progress as progress_bar
from training.fit.stages import PIXEL_STAGE, STAGES, Stage, StageLoss
from training.models.build import Model, build_model, load_checkpoint

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StageResult:
    name: str
    steps: int
    final_loss: float
    val_loss: float
    resumed_from: int
    val_pearson_r: float = float("nan")  # the kept weights' (optim.val_every > 0)
    kept_step: int = -1  # the step whose weights were kept (-1: the last)
    wall_s: float = 0.0  # training time of the stage, summed over resumed runs


@dataclass(frozen=True, slots=True)
class FitResult:
    checkpoint: Path
    stages: tuple[StageResult, ...]
    wall_s: float
    interrupted: bool = False


def stage_plan(cfg: TrainConfig) -> list[tuple[Stage, int]]:
    """(stage, steps) in order; stages with 0 steps are skipped."""
    s = cfg.stages
    if cfg.model.kind in ("unet", "fnet"):
        plan = [(PIXEL_STAGE, s.pixel_steps)]
    else:
        steps = (s.vae_steps, s.translator_steps, s.joint_steps, s.end_to_end_steps)
        plan = list(zip(STAGES, steps, strict=True))
    return [(stage, n) for stage, n in plan if n > 0]


def norm_dict(fields: Fields) -> dict[str, dict[str, Any]]:
    """The resolved input/target normalisation, as stored in checkpoints and the card."""
    return {"input": asdict(fields.input_norm), "target": asdict(fields.target_norm)}


def _save(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # atomic: a crash never leaves a half-written checkpoint


def _autocast(cfg: TrainConfig, device: torch.device) -> Any:
    on = cfg.optim.amp == "on" or (cfg.optim.amp == "auto" and device.type == "cuda")
    if on and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class Selection:
    """The best weights so far by validation score (``optim.val_every``): the mean over
    validation experiments of each one's mean per-field Pearson r (``monitor.val_score``)."""

    every: int
    best_r: float = float("-inf")
    best_step: int = -1
    state: dict[str, torch.Tensor] | None = None

    def offer(self, model: Model, val: Fields, step: int, device: torch.device) -> float:
        r = monitor.val_score(model, val, device)
        if self.state is None or r > self.best_r:
            self.best_r, self.best_step = r, step
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        logger.info(
            "step %d: validation mean per-experiment r %.4f (best %.4f)", step, r, self.best_r
        )
        return r

    def to_dict(self) -> dict[str, Any]:
        return {"best_r": self.best_r, "best_step": self.best_step, "state": self.state}

    def load(self, saved: dict[str, Any]) -> None:
        self.best_r, self.best_step, self.state = (
            saved["best_r"],
            saved["best_step"],
            saved["state"],
        )


def train_step(
    net: torch.nn.Module,
    batch: tuple[np.ndarray, ...],
    opt: torch.optim.Optimizer,
    cfg: TrainConfig,
    device: torch.device,
) -> dict[str, float]:
    """One optimiser step on ``batch`` (input, target, weights); the loss terms."""
    x, y, m = (torch.from_numpy(a).to(device) for a in batch)
    with _autocast(cfg, device):
        loss, stats = total(net(x, y, m))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return stats


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
    ordinal: int = 0,
) -> StageResult | None:
    """Train one stage; None when ``stop_after`` interrupted it (checkpoint saved).

    ``ordinal``: the stage's place among the run's stages with steps. The crop and
    augmentation stream is seeded by (seed, rank, ordinal), not by the stage's kind, so
    every model kind's first stage at one seed draws the same crops (paired baselines)."""
    train, val = data
    path = out_dir / f"stage-{stage.name}.pt"
    params = stage.prepare(model)
    opt = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.optim.lr, total_steps=steps)
    rng = crop_stream(cfg.optim.seed, rt.rank, ordinal)
    pick = Selection(cfg.optim.val_every)
    start, history, before_s, t0 = 0, [], 0.0, time.monotonic()
    if path.exists():
        state = torch.load(path, map_location=rt.device, weights_only=True)
        model.load_state_dict(state["model"])
        start, history = state["step"], state["history"]
        before_s = float(state.get("wall_s", 0.0))
        if state["done"]:
            logger.info("stage %s already done (%d steps): skipped", stage.name, start)
            return StageResult(
                stage.name,
                start,
                history[-1]["loss"],
                state["val_loss"],
                start,
                state["selection"]["best_r"],
                state["selection"]["best_step"],
                before_s,
            )
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        pick.load(state["selection"])
        logger.info("stage %s: resuming at step %d of %d", stage.name, start, steps)
    loss_module = StageLoss(model, stage, cfg.loss)
    net: torch.nn.Module = loss_module
    if rt.world_size > 1:
        net = DistributedDataParallel(
            net, device_ids=[rt.device.index] if rt.device.type == "cuda" else None
        )

    def elapsed_s() -> float:
        return before_s + time.monotonic() - t0

    def save(
        step: int, done: bool, val_loss: float = float("nan"), wall_s: float | None = None
    ) -> None:
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
                    "selection": pick.to_dict(),
                    "wall_s": elapsed_s() if wall_s is None else wall_s,
                },
                path,
            )

    bar = progress_bar(
        range(start, steps),
        initial=start,
        total=steps,
        desc=f"{cfg.name}: {stage.name}",
        unit="step",
        disable=not (progress and rt.main),
    )
    d = cfg.data
    try:
        for step in bar:
            if stop_after is not None and step - start >= stop_after:
                save(step, done=False)
                return None
            batch = random_batch(
                train, cfg.optim.batch_size, d.crop_px, rng, cfg.augment, d.nucleus_crop_fraction
            )
            loss_module.cfg = ramp(cfg.loss, step)
            history.append(train_step(net, batch, opt, cfg, rt.device))
            sched.step()
            bar.set_postfix(loss=f"{history[-1]['loss']:.4f}")
            if pick.every and (step + 1) % pick.every == 0 and step + 1 < steps:
                pick.offer(model, val, step + 1, rt.device)
            if (step + 1) % cfg.optim.checkpoint_every == 0:
                save(step + 1, done=False)
    except KeyboardInterrupt:
        save(len(history), done=False)
        raise
    if pick.every:
        pick.offer(model, val, steps, rt.device)
        assert pick.state is not None
        model.load_state_dict(pick.state)
    val_loss = monitor.val_loss(stage, model, val, cfg, rt.device)
    wall_s = elapsed_s()  # figures are not training time
    save(steps, done=True, val_loss=val_loss, wall_s=wall_s)
    if rt.main:
        monitor.figures(stage, model, val, history, out_dir, rt.device, cfg)
    final = float(np.mean([h["loss"] for h in history[-50:]])) if history else float("nan")
    return StageResult(
        stage.name, steps, final, val_loss, start, pick.best_r, pick.best_step, wall_s
    )


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
    if cfg.init is not None:
        init_weights(model, cfg)
    if rt.main:
        (out_dir / "config.resolved.json").write_text(
            json.dumps(cfg.model_dump(mode="json"), indent=2)
        )
    results: list[StageResult] = []
    ckpt = out_dir / f"{cfg.name}.pt"
    data_s = time.monotonic() - t0
    for ordinal, (stage, steps) in enumerate(stage_plan(cfg)):
        res = run_stage(stage, steps, model, data, cfg, out_dir, rt, progress, stop_after, ordinal)
        distributed.barrier()
        if res is None:
            return FitResult(ckpt, tuple(results), time.monotonic() - t0, interrupted=True)
        results.append(res)
    model.eval()
    wall_s = data_s + sum(r.wall_s for r in results)
    if rt.main:
        _save(
            {
                "state_dict": model.state_dict(),
                "config": cfg.model_dump(mode="json"),
                "stages": [asdict(r) for r in results],
                "normalization": norm_dict(data[0]),
                "wall_s": wall_s,
            },
            ckpt,
        )
    distributed.barrier()
    return FitResult(ckpt, tuple(results), wall_s)


def init_weights(model: Model, cfg: TrainConfig) -> None:
    """Fine-tuning: start from ``cfg.init``'s weights; the architectures must agree."""
    from edge.errors import ModelError

    assert cfg.init is not None
    init_model, init_cfg = load_checkpoint(cfg.init)
    if init_cfg.model != cfg.model or init_cfg.data.planes != cfg.data.planes:
        raise ModelError(
            str(cfg.init),
            "its [model] section or input planes differ from the recipe's: cannot start from it",
        )
    model.load_state_dict(init_model.state_dict())
    logger.info("initialised from %s", cfg.init)

"""How many training steps fit in a wall-clock budget: time a few real steps of the
recipe's first stage (``fit``'s own step) on its own data, on a copy of the model (the
model is untouched). CPU: adapt's budget is this machine's."""

from __future__ import annotations

import copy
import time

import numpy as np
import torch

from training.config import TrainConfig
from training.data.augment import crop_stream, random_batch
from training.data.fields import Fields
from training.fit.stages import StageLoss
from training.fit.train import Model, stage_plan, train_step


def steps_per_s(cfg: TrainConfig, train: Fields, model: Model, steps: int = 6) -> float:
    """Median training steps per second over ``steps`` timed steps (after one warm-up step),
    with the recipe's batch, crop, augmentation, loss and thread count."""
    if cfg.optim.threads:
        torch.set_num_threads(cfg.optim.threads)
    stage = stage_plan(cfg)[0][0]
    probe = copy.deepcopy(model)
    loss = StageLoss(probe, stage, cfg.loss)
    opt = torch.optim.AdamW(stage.prepare(probe), lr=cfg.optim.lr)
    rng = crop_stream(cfg.optim.seed + 10_000)  # not the run's stream
    d, cpu = cfg.data, torch.device("cpu")
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        batch = random_batch(
            train, cfg.optim.batch_size, d.crop_px, rng, cfg.augment, d.nucleus_crop_fraction
        )
        train_step(loss, batch, opt, cfg, cpu)
        if i:
            times.append(time.perf_counter() - t0)
    return float(1.0 / np.median(times))

"""Per-frame cost of AGLU and the baselines, side by side in one process (medians).

Timing does not depend on weights, so the torch models are freshly initialised
(eval mode); the ONNX rows are the shipped files as the edge runs them. The
DDPM's cost is measured as the median of single denoiser passes times 50 (a full
50-step sample at a small size checks that the sum holds).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from edge.infer.model import SessionConfig, default_model_path, load_model
from training.config import TrainConfig
from training.models.ddpm import DDPM, ConditionalDenoiser
from training.train import build_model

DDPM_STEPS = 50


@dataclass(frozen=True, slots=True)
class Timing:
    name: str
    runtime: str
    median_s: float


def median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: allocation, graph optimisation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _ort(precision: str, x: np.ndarray) -> Callable[[], object]:
    loaded = load_model(default_model_path(precision), SessionConfig())
    return lambda: loaded.session.run(None, {loaded.input_name: x})


def _torch(model: torch.nn.Module, *args: torch.Tensor) -> Callable[[], object]:
    model.eval()

    def run() -> object:
        with torch.no_grad():
            return model(*args)

    return run


def speed_table(recipe: TrainConfig, size_px: int, repeats: int) -> list[Timing]:
    x = np.random.default_rng(0).standard_normal((1, 1, size_px, size_px)).astype(np.float32)
    xt = torch.from_numpy(x)
    unet_cfg = recipe.model_copy(update={"model": recipe.model.model_copy(update={"kind": "unet"})})
    denoiser = ConditionalDenoiser().eval()
    t = torch.tensor([500])
    step = median_s(_torch(denoiser, xt, xt, t), max(1, repeats // 2))
    return [
        Timing("AGLU int8 (shipped)", "onnxruntime", median_s(_ort("int8", x), repeats)),
        Timing("AGLU fp32 (shipped)", "onnxruntime", median_s(_ort("fp32", x), repeats)),
        Timing("AGLU fp32", "torch eager", median_s(_torch(build_model(recipe), xt), repeats)),
        Timing(
            "U-Net baseline fp32",
            "torch eager",
            median_s(_torch(build_model(unet_cfg), xt), repeats),
        ),
        Timing(f"DDPM, {DDPM_STEPS} steps", "torch eager", DDPM_STEPS * step),
    ]


def ddpm_sum_check(size_px: int = 128) -> tuple[float, float]:
    """(full 50-step sample time, 50 x one step) at a small size: the sum should hold."""
    ddpm = DDPM(ConditionalDenoiser()).eval()
    x = torch.rand(1, 1, size_px, size_px)
    full = median_s(lambda: ddpm.sample(x, DDPM_STEPS), 3)
    step = median_s(_torch(ddpm.denoiser, x, x, torch.tensor([500])), 9)
    return full, DDPM_STEPS * step

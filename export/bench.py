"""Per-frame cost of AGLU and the baselines, side by side in one process (medians).

Timing does not depend on weights, so the torch models are freshly initialised
(eval mode); the ONNX rows are the shipped files as the edge runs them. The
DDPM's cost is measured as the median of single denoiser passes times 50 (a full
50-step sample at a small size checks that the sum holds).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edge.infer.model import SessionConfig, default_model_path, load_model
from training.config import TrainConfig
from training.models.build import build_model
from training.models.ddpm import DDPM, ConditionalDenoiser
from training.models.predict import stride_of

DDPM_STEPS = 50


@dataclass(frozen=True, slots=True)
class Timing:
    name: str
    runtime: str
    median_s: float
    params: int = 0  # parameters of the torch model (0: not a torch model here)
    peak_rss_mb: float = float("nan")  # this process, over this row only


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


def params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _timed(
    name: str,
    runtime: str,
    make: Callable[[], Callable[[], object]],
    repeats: int,
    n_params: int = 0,
) -> Timing:
    """One row: build the runner, time it, and record the peak RSS of doing so."""
    from edge.bench import peak_rss_mb, reset_peak_rss

    reset_peak_rss()
    run = make()
    return Timing(name, runtime, median_s(run, repeats), n_params, peak_rss_mb())


def _onnx_of(model: torch.nn.Module, folder: Path, x: np.ndarray) -> tuple[Path, Path]:
    """fp32 and int8 (static QDQ, MinMax on 4 random frames) ONNX files of ``model``,
    made by this repository's export (``aglu-export``'s graph, speed rewrites and
    quantisation)."""
    from export.onnx_graph import export_fp32
    from export.quantize import quantize_int8
    from export.rewrites import relayout_file

    fp32, int8 = folder / "peer.onnx", folder / "peer.int8.onnx"
    export_fp32(model.eval(), fp32, stride_of(model))
    relayout_file(fp32, fp32, require_card=False)
    rng = np.random.default_rng(1)
    side = min(256, x.shape[-1])
    frames = [rng.standard_normal((1, side, side)).astype(np.float32) for _ in range(4)]
    quantize_int8(fp32, int8, frames, fp32_modules=())
    relayout_file(int8, int8, require_card=False)
    return fp32, int8


def _ort_file(path: Path, x: np.ndarray) -> Callable[[], object]:
    import onnxruntime as ort

    from edge.infer.model import session_options

    session = ort.InferenceSession(str(path), sess_options=session_options(SessionConfig()))
    return lambda: session.run(None, {session.get_inputs()[0].name: x})


def _input(size_px: int) -> tuple[np.ndarray, torch.Tensor]:
    x = np.random.default_rng(0).standard_normal((1, 1, size_px, size_px)).astype(np.float32)
    return x, torch.from_numpy(x)


def _aglu_rows(recipe: TrainConfig, x: np.ndarray, xt: torch.Tensor, repeats: int) -> list[Timing]:
    """The shipped AGLU in ORT int8 and fp32, and its architecture in torch eager."""
    aglu = build_model(recipe).eval()
    return [
        _timed("AGLU int8 (shipped)", "onnxruntime", lambda: _ort("int8", x), repeats),
        _timed("AGLU fp32 (shipped)", "onnxruntime", lambda: _ort("fp32", x), repeats),
        _timed("AGLU fp32", "torch eager", lambda: _torch(aglu, xt), repeats, params(aglu)),
    ]


def _ddpm_row(xt: torch.Tensor, repeats: int) -> Timing:
    """DDPM_STEPS times the median single denoiser pass."""
    denoiser = ConditionalDenoiser().eval()
    t = torch.tensor([500])
    run = lambda: _torch(denoiser, xt, xt, t)  # noqa: E731
    step = _timed("DDPM, 1 step", "torch eager", run, max(1, repeats // 2), params(denoiser))
    name = f"DDPM, {DDPM_STEPS} steps"
    return dataclasses.replace(step, name=name, median_s=DDPM_STEPS * step.median_s)


def peers_table(recipe: TrainConfig, size_px: int, repeats: int) -> list[Timing]:
    """AGLU (ORT int8 / fp32, torch) and the full-resolution fnet-style U-Net (torch, ORT
    fp32, ORT int8), the DDPM-50, with parameter counts and peak RSS, one size."""
    import tempfile

    from training.models.fnet import FnetUNet

    x, xt = _input(size_px)
    fnet = FnetUNet().eval()
    n = params(fnet)
    rows = _aglu_rows(recipe, x, xt, repeats)
    rows.append(_timed("fnet U-Net fp32", "torch eager", lambda: _torch(fnet, xt), repeats, n))
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = _onnx_of(fnet, Path(tmp), x)
        rows += [
            _timed("fnet U-Net fp32", "onnxruntime", lambda: _ort_file(fp32, x), repeats, n),
            _timed("fnet U-Net int8", "onnxruntime", lambda: _ort_file(int8, x), repeats, n),
        ]
    return [*rows, _ddpm_row(xt, repeats)]


def speed_table(recipe: TrainConfig, size_px: int, repeats: int) -> list[Timing]:
    """AGLU (ORT int8 / fp32, torch), this repository's U-Net baseline and the DDPM-50."""
    x, xt = _input(size_px)
    unet_cfg = recipe.model_copy(update={"model": recipe.model.model_copy(update={"kind": "unet"})})
    unet = build_model(unet_cfg).eval()
    rows = _aglu_rows(recipe, x, xt, repeats)
    rows.append(
        _timed(
            "U-Net baseline fp32", "torch eager", lambda: _torch(unet, xt), repeats, params(unet)
        )
    )
    return [*rows, _ddpm_row(xt, repeats)]


def ddpm_sum_check(size_px: int = 128) -> tuple[float, float]:
    """(full 50-step sample time, 50 x one step) at a small size: the sum should hold."""
    ddpm = DDPM(ConditionalDenoiser()).eval()
    x = torch.rand(1, 1, size_px, size_px)
    full = median_s(lambda: ddpm.sample(x, DDPM_STEPS), 3)
    step = median_s(_torch(ddpm.denoiser, x, x, torch.tensor([500])), 9)
    return full, DDPM_STEPS * step

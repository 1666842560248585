"""int8 calibration study: which calibration keeps the skip-gated AGLU's int8 graph close
to fp32? Not part of the product; the figures in docs/evaluation/README.md came from it.

    .venv/bin/python tools/int8_study.py runs/X/X.pt exported/X.onnx [variant,...]

Quantizes the fp32 graph with the export's own ``quantize_int8`` (QDQ, per-channel s8
weights, u8 activations, ``FP32_MODULES`` kept fp32), changing one thing per variant, and prints
Pearson r of int8 vs fp32 on up to 8 validation windows of 512 px (never the test split).
Variants: minmax (the export's), movavg (MinMax with a moving average over frames),
p99.99 / p99.999 (percentile calibration), and fp32-<group> (that group of convs kept
fp32 too: encoder, translator, decoder).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationMethod

from export.pipeline import frames_of, load_checkpoint
from export.quantize import FP32_MODULES, quantize_int8
from training.data.fields import build_fields

SIDE_PX = 512
GROUPS = {
    "encoder": ("qpi_vae.encoder",),
    "translator": ("translator",),
    "decoder": ("dapi_vae.decoder",),
}
MINMAX: dict[str, Any] = {"calibrate_method": CalibrationMethod.MinMax}
VARIANTS: dict[str, dict[str, Any]] = {
    "minmax": MINMAX,
    "movavg": {**MINMAX, "extra_options": {"CalibMovingAverage": True}},
    "p99.99": {
        "calibrate_method": CalibrationMethod.Percentile,
        "extra_options": {"CalibPercentile": 99.99},
    },
    "p99.999": {
        "calibrate_method": CalibrationMethod.Percentile,
        "extra_options": {"CalibPercentile": 99.999},
    },
}


def main(checkpoint: Path, fp32: Path, names: list[str]) -> None:
    model, cfg = load_checkpoint(checkpoint)
    stride = int(model.stride_px)
    calib = [q for q, _ in frames_of(build_fields(cfg, "train", 16, SIDE_PX), 16, SIDE_PX, stride)]
    held = [q for q, _ in frames_of(build_fields(cfg, "val", 8, SIDE_PX), 8, SIDE_PX, stride)]

    def predict(path: Path) -> np.ndarray:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return np.concatenate([session.run(None, {name: f[None]})[0].ravel() for f in held])

    reference = predict(fp32)
    tmp = Path(tempfile.mkdtemp())
    for name in names:
        group = GROUPS[name.removeprefix("fp32-")] if name.startswith("fp32-") else ()
        out = tmp / f"{name}.onnx"
        options = MINMAX if group else VARIANTS[name]
        quantize_int8(fp32, out, calib, FP32_MODULES + group, options)
        r = np.corrcoef(reference, predict(out))[0, 1]
        print(f"{checkpoint.stem} {name}: int8 vs fp32 Pearson r {r:.4f}", flush=True)


if __name__ == "__main__":
    default = [*VARIANTS, *(f"fp32-{g}" for g in GROUPS)]
    main(
        Path(sys.argv[1]),
        Path(sys.argv[2]),
        sys.argv[3].split(",") if len(sys.argv) > 3 else default,
    )

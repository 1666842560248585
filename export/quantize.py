"""Static QDQ int8 quantization (docs/speed.md): per-channel s8 weights, u8 activations,
MinMax calibration on frames from the training data.

Kept fp32 (``FP32_MODULES``, matched by the conv's weight name): the first and last
conv (docs/speed.md), and the convs at the latent boundaries. A quantized conv that
consumes a latent re-quantizes the 8-channel latent to u8, which costs most of
the int8 error: measured on the shipped model (8 held-out 256 px fields), int8 vs
fp32 Pearson r 0.9929 with first/last only, 0.9971 with the latent boundaries
too, at 8.1 vs 7.7 ms per 256x256 frame.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from export.onnx_graph import INPUT_NAME

FP32_MODULES = (
    "stem",  # U-Net baseline: first conv
    "head",  # U-Net baseline: last conv
    "qpi_vae.encoder.stem",  # first conv
    "qpi_vae.encoder.to_latent",  # produces the QPI latent
    "translator.enc0.0",  # consumes the QPI latent
    "translator.out",  # produces the DAPI latent
    "dapi_vae.decoder.body8.0",  # consumes the DAPI latent
    "dapi_vae.decoder.head",  # last conv
)

# The int8 fallback ``aglu-train adapt`` tries when the gate refuses the all-int8 file
# (ExportOptions.int8_fallbacks): the DAPI decoder kept fp32 too. Measured
# (tools/int8_study.py, the six 10-minute adapted aiSEGcell models of
# docs/evaluation/adapt, int8 vs fp32 r on 8 windows of 512 px of their training
# fields): all int8 0.981-0.995 (1 of 6 >= 0.995), decoder fp32 0.985-0.997 (4 of 6),
# better on all six; percentile or moving-average calibration, or the encoder or
# translator kept fp32, no better than all int8 on most. Speed (1024 px, 2-core CPU,
# `aglu-edge bench --models`): all int8 1.00, decoder fp32 1.45x, fp32 2.24x.
DECODER = ("dapi_vae.decoder",)


class _Frames:
    """onnxruntime CalibrationDataReader over normalised (planes, H, W) frames."""

    def __init__(self, frames: Sequence[npt.NDArray[np.float32]]) -> None:
        self._it: Iterator[npt.NDArray[np.float32]] = iter(frames)

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        frame = next(self._it, None)
        return None if frame is None else {INPUT_NAME: frame[None].astype(np.float32)}


def fp32_conv_nodes(path: Path, modules: Sequence[str]) -> list[str]:
    """Names of the Conv nodes whose weight belongs to one of ``modules``."""
    import onnx

    model: Any = onnx.load(str(path))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    return [n.name for n in convs if any(n.input[1].startswith(m + ".") for m in modules)]


def quantize_int8(
    fp32_path: Path,
    out_path: Path,
    calibration: Sequence[npt.NDArray[np.float32]],
    fp32_modules: Sequence[str] = FP32_MODULES,
    calibration_options: Mapping[str, Any] | None = None,
) -> None:
    """``calibration_options``: ``calibrate_method`` / ``extra_options`` instead of MinMax
    (tools/int8_study.py compares them; the export uses the default)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    excluded = fp32_conv_nodes(fp32_path, fp32_modules)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        reader: Any = _Frames(calibration)
        quantize_static(
            str(pre),
            str(out_path),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            **{"calibrate_method": CalibrationMethod.MinMax, **(calibration_options or {})},
        )

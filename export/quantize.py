"""Static QDQ int8 quantization (DESIGN.md): per-channel s8 weights, u8 activations,
MinMax calibration on real(istic) frames, first and last conv kept fp32."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from export.onnx_graph import INPUT_NAME, conv_node_names


class _Frames:
    """onnxruntime CalibrationDataReader over normalised (H, W) frames."""

    def __init__(self, frames: Sequence[npt.NDArray[np.float32]]) -> None:
        self._it: Iterator[npt.NDArray[np.float32]] = iter(frames)

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        frame = next(self._it, None)
        return None if frame is None else {INPUT_NAME: frame[None, None].astype(np.float32)}


def quantize_int8(
    fp32_path: Path, out_path: Path, calibration: Sequence[npt.NDArray[np.float32]]
) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    convs = conv_node_names(fp32_path)
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
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=[convs[0], convs[-1]],
        )

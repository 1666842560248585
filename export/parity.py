"""Parity gates: torch vs ORT fp32, and fp32 vs int8 on held-out frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from edge.infer.model import SessionConfig, load_model, session_options
from edge.infer.stainer import Stainer
from training.data.segment import relabel, segment_nuclei
from training.evaluate.metrics import pearson_r, psnr_db
from training.evaluate.nuclei import match

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Parity:
    torch_vs_fp32_max_abs: float
    fp32_vs_int8_pearson_r: float | None  # None: fp32-only export
    fp32_vs_int8_psnr_db: float | None
    recall_fp32: float
    recall_int8: float | None


def _run(path: Path, frames: Sequence[F32]) -> list[F32]:
    """The file's ``dapi`` on stride-multiple frames, in a session with the edge's options
    (the card is stamped once, after parity: ``check_stainer`` then loads it as the edge)."""
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(path), sess_options=session_options(SessionConfig()), providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name
    return [np.asarray(session.run(["dapi"], {name: f[None]})[0][0, 0], np.float32) for f in frames]


def measure(
    model: torch.nn.Module,
    fp32: Path,
    int8: Path | None,
    frames: Sequence[F32],
    labels: Sequence[npt.NDArray[np.int32]],
) -> Parity:
    """Frames are normalised, stride-multiple (planes, H, W); ``labels`` the true nuclei.

    Recall is IoU >= 0.5 matched detection recall (``training.data.segment``); NaN when the
    frames hold no true nucleus (the recall gate then has nothing to compare).
    ``int8`` None: fp32-only export.
    """
    with torch.no_grad():
        ref = [model(torch.from_numpy(f)[None])[0][0, 0].numpy() for f in frames]
    out32 = _run(fp32, frames)
    max_abs = max(float(np.abs(a - b).max()) for a, b in zip(ref, out32, strict=True))

    def recall(outs: list[F32]) -> float:
        hits = [
            match(relabel(lab), segment_nuclei(o)).true_matched
            for o, lab in zip(outs, labels, strict=True)
        ]
        matched = np.concatenate(hits)
        return float(matched.mean()) if matched.size else float("nan")  # no nucleus in view

    if int8 is None:
        return Parity(max_abs, None, None, recall(out32), None)
    out8 = _run(int8, frames)
    a, b = np.stack(out32), np.stack(out8)
    return Parity(max_abs, pearson_r(b, a), psnr_db(b, a), recall(out32), recall(out8))


def check_stainer(path: Path, frame: F32) -> None:
    """The exported file must load and run in the edge exactly as the daemon would.

    ``frame``: a raw (Y, X) frame, or a (Z, Y, X) stack for a multi-plane model."""
    Stainer(load_model(path, SessionConfig())).stain(frame)

"""checkpoint -> fp32 ONNX -> int8 ONNX -> parity gates -> model cards."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge.errors import AgluError
from edge.infer.card import CARD_FORMAT, CARD_VERSION, MODALITY_NAMES, ModelCard, NormalizationCard
from edge.infer.preprocess import Normalization
from export.onnx_graph import INPUT_NAME, OUTPUT_NAMES, export_fp32, stamp_card
from export.parity import Parity, check_stainer, measure
from export.quantize import FP32_MODULES, quantize_int8
from export.receptive import measure_halo_px
from export.rewrites import relayout_file
from training.config import TrainConfig
from training.data.fields import Fields, build_fields
from training.evaluate.score import true_instances
from training.models.build import load_checkpoint
from training.models.predict import stride_of

logger = logging.getLogger(__name__)


class ParityGateError(AgluError):
    pass


@dataclass(frozen=True, slots=True)
class ExportOptions:
    calibration_frames: int = 16
    parity_frames: int = 8
    side_px: int = 256
    fp32_only: bool = False
    max_pearson_loss: float = 0.005
    max_recall_loss: float = 0.01
    # Where the gate refuses the int8 file: retry with these module groups kept fp32 too,
    # in turn (e.g. (DECODER,): export.quantize), each gated the same way.
    int8_fallbacks: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class ExportResult:
    fp32: Path
    int8: Path | None
    parity: Parity
    halo_px: int
    int8_kept_fp32: tuple[str, ...] = ()  # a fallback's modules kept fp32 beyond the default


def weights_sha256(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _describe_data(cfg: TrainConfig) -> str:
    d = cfg.data
    modality = MODALITY_NAMES[d.modality]
    if d.source == "simulated":
        return (
            f"simulated paired QPI/DAPI (edge.sim.phantom): {d.train_fields} fields of "
            f"{d.field_px} px, seed {d.seed}"
        )
    if d.source == "files":
        planes = (
            "" if d.input_planes is None else f" planes {d.input_planes[0]}..{d.input_planes[1]}"
        )
        where = f"{d.input_path.name if d.input_path else ''}{planes} -> "
        where += d.target_path.name if d.target_path else ""
    else:
        where = f"{d.path}: {d.input_channel} -> {d.target_channel}"
    return f"{modality} ({d.source}) {where}"


def build_card(
    model: torch.nn.Module,
    cfg: TrainConfig,
    stride_px: int,
    halo_px: int,
    norms: tuple[Normalization, Normalization],
) -> ModelCard:
    """The fp32 card, without metrics, that the edge validates; built from a plain mapping so
    pydantic checks every field. The int8 and final cards differ only in precision and
    metrics (``model_copy``), so the weights are hashed once."""
    simulated = cfg.data.source == "simulated"
    modality = MODALITY_NAMES[cfg.data.modality]
    units = "rad" if cfg.data.modality == "qpi" else "a.u. (camera counts)"
    return ModelCard.model_validate(
        {
            "format": CARD_FORMAT,
            "version": CARD_VERSION,
            "name": cfg.name,
            "model_version": "0.1.0",
            "precision": "fp32",
            "weights_sha256": weights_sha256(model),
            "recipe_sha256": cfg.sha256(),
            "input": {"name": INPUT_NAME, "units": units, "description": modality},
            "outputs": [
                {
                    "name": OUTPUT_NAMES[0],
                    "units": "normalised DAPI (percentile, a.u.)",
                    "description": "predicted nuclear stain",
                },
                {
                    "name": OUTPUT_NAMES[1],
                    "units": "normalised DAPI (a.u.)",
                    "description": "per-pixel uncertainty (Laplace scale)",
                },
            ],
            "normalization": NormalizationCard.from_normalization(norms[0]).model_dump(),
            "target_normalization": NormalizationCard.from_normalization(norms[1]).model_dump(),
            "modality": cfg.data.modality,
            "input_planes": cfg.data.planes,
            "stride_px": stride_px,
            "halo_px": halo_px,
            "pixel_size_um": cfg.simulation.pixel_size_um if simulated else None,
            "dataset": _describe_data(cfg),
            "metrics": {},
        }
    )


def _crop(image: Any, stride: int) -> Any:
    h, w = (s // stride * stride for s in image.shape[-2:])
    return np.ascontiguousarray(image[..., :h, :w])


def frames_of(fields: Fields, n: int, side_px: int, stride: int) -> list[tuple[Any, Any]]:
    """Up to ``n`` (input (planes, s, s), true nuclei (s, s)) windows of at most ``side_px``
    (a stride multiple) on a regular grid over the fields, in turn: calibration and
    parity frames of bounded size from fields of any size (real fields are large)."""
    windows: list[list[tuple[Any, Any]]] = []
    for q, lab, b, d in zip(fields.qpi, fields.labels, fields.brightness, fields.dapi, strict=True):
        true = true_instances(lab, b, d)[0]
        h, w = d.shape
        s = max(stride, min(side_px, h, w) // stride * stride)
        windows.append(
            [
                (
                    _crop(q[:, y : y + s, x : x + s], stride),
                    _crop(true[y : y + s, x : x + s], stride),
                )
                for y in range(0, h - s + 1, s)
                for x in range(0, w - s + 1, s)
            ]
        )
    out = []
    for k in range(max(len(w) for w in windows)):
        out += [w[k] for w in windows if k < len(w)]
    return out[:n]


def run_export(checkpoint: Path, out_dir: Path, opts: ExportOptions) -> ExportResult:
    model, cfg = load_checkpoint(checkpoint)
    out_dir.mkdir(parents=True, exist_ok=True)
    stride = stride_of(model)
    side = max(stride, (opts.side_px // stride) * stride)
    planes = cfg.data.planes
    fp32 = out_dir / f"{cfg.name}.onnx"
    export_fp32(model, fp32, stride, planes)
    _relayout(fp32)
    halo = measure_halo_px(model, stride, planes=planes)
    # Calibrate on training data; parity (the int8 gate) on validation data: the gate
    # decides which file ships, so it never reads the test split (issue 23).
    calib = build_fields(cfg, "train", opts.calibration_frames, side)
    held = build_fields(cfg, "val", opts.parity_frames, side)
    frames, truths = zip(*frames_of(held, opts.parity_frames, side, stride), strict=True)
    norms = (calib.input_norm, calib.target_norm)
    card = build_card(model, cfg, stride, halo, norms)  # hashes the weights once
    int8: Path | None = None
    kept: tuple[str, ...] = ()
    problems: list[str] = []
    if opts.fp32_only:
        parity = measure(model, fp32, None, list(frames), list(truths))
    else:
        int8 = out_dir / f"{cfg.name}.int8.onnx"
        calib_frames = [q for q, _ in frames_of(calib, opts.calibration_frames, side, stride)]
        refusals = []
        for kept in ((), *opts.int8_fallbacks):
            quantize_int8(fp32, int8, calib_frames, FP32_MODULES + kept)
            _relayout(int8)
            parity = measure(model, fp32, int8, list(frames), list(truths))  # before any card
            problems = _gate_problems(parity, opts)
            if not problems:
                break
            refusals.append(f"{_kept_label(kept)}: {'; '.join(problems)}")
            logger.info("int8 gate refused %s", refusals[-1])
    metrics = {
        k: float(f"{v:.6g}")
        for k, v in asdict(parity).items()
        if v is not None and np.isfinite(v)  # NaN: no nucleus in the parity frames
    }
    stamp_card(fp32, card.model_copy(update={"metrics": metrics}))  # each file's one stamp
    raw = frames[0] if planes > 1 else frames[0][0]
    check_stainer(fp32, raw)
    if int8 is not None:
        int8_card = card.model_copy(update={"precision": "int8", "metrics": metrics})
        stamp_card(int8, int8_card)
        check_stainer(int8, raw)
        if problems:
            int8.unlink(missing_ok=True)
            raise ParityGateError(f"int8 model refused ({' | '.join(refusals)}); use --fp32-only")
        logger.info("int8 parity gate passed (%s)", _kept_label(kept))
    (out_dir / f"{cfg.name}.parity.json").write_text(json.dumps(metrics, indent=2))
    return ExportResult(fp32, int8, parity, halo, kept)


def _relayout(path: Path) -> None:
    """The speed rewrites that keep the graph's outputs (export.rewrites), in place."""
    for r in relayout_file(path, path, require_card=False):
        if r.places:
            logger.info(
                "%s: %s at %d places (max output change %.1e of range): %s",
                path.name,
                r.name,
                r.places,
                r.max_error,
                "kept" if r.kept else "dropped",
            )


def _kept_label(kept: tuple[str, ...]) -> str:
    return f"{', '.join(kept)} kept fp32" if kept else "all int8"


def _gate_problems(p: Parity, opts: ExportOptions) -> list[str]:
    """Why the int8 file may not ship (empty: it may)."""
    if p.fp32_vs_int8_pearson_r is None or p.recall_int8 is None:
        raise ValueError("the int8 gate needs int8 parity figures")
    problems = []
    if 1.0 - p.fp32_vs_int8_pearson_r > opts.max_pearson_loss:
        problems.append(
            f"Pearson r vs fp32 {p.fp32_vs_int8_pearson_r:.4f} < {1 - opts.max_pearson_loss:.4f}"
        )
    if p.recall_fp32 - p.recall_int8 > opts.max_recall_loss:
        problems.append(f"nucleus recall {p.recall_int8:.3f} vs fp32 {p.recall_fp32:.3f}")
    return problems


def summary_rows(p: Parity) -> list[tuple[str, str]]:
    def fmt(value: float | None, spec: str) -> str:
        return "n/a (fp32 only)" if value is None else format(value, spec)

    return [
        ("torch vs ORT fp32, max |diff|", f"{p.torch_vs_fp32_max_abs:.2e}"),
        ("fp32 vs int8, Pearson r", fmt(p.fp32_vs_int8_pearson_r, ".5f")),
        ("fp32 vs int8, PSNR dB", fmt(p.fp32_vs_int8_psnr_db, ".1f")),
        ("nucleus recall fp32", f"{p.recall_fp32:.3f}"),
        ("nucleus recall int8", fmt(p.recall_int8, ".3f")),
    ]

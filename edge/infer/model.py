"""Loading a model: file -> verified bytes -> onnxruntime session + card."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edge.errors import ConfigError, ModelError
from edge.infer.card import CARD_KEY, ModelCard, parse_card

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "aglu-qpi"  # the simulated-QPI model: the embedded default
SUFFIXES = {"int8": ".int8.onnx", "fp32": ".onnx"}


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How onnxruntime runs the model (docs/speed.md: settings chosen by measurement)."""

    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    intra_op_threads: int = 0  # 0: one per core
    allow_spinning: bool = False  # True: threads busy-wait between runs (idle CPU, docs/speed.md)
    cpu_mem_arena: bool = True
    graph_optimization: str = "all"  # "all" | "extended" | "basic" | "disable"

    def threads(self) -> int:
        return self.intra_op_threads or (os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    path: str
    sha256: str
    card: ModelCard
    session: Any  # onnxruntime.InferenceSession (untyped library)
    input_name: str
    output_names: tuple[str, ...]


def models_dir() -> Path:
    """Where the shipped models lie (package data)."""
    return Path(str(resources.files("edge") / "models"))


def shipped_models() -> dict[str, dict[str, Path]]:
    """Every shipped model: name -> precision -> file."""
    out: dict[str, dict[str, Path]] = {}
    for f in sorted(models_dir().glob("aglu-*.onnx")):
        precision = "int8" if f.name.endswith(SUFFIXES["int8"]) else "fp32"
        out.setdefault(f.name.removesuffix(SUFFIXES[precision]), {})[precision] = f
    return out


def shipped_model_path(name: str, precision: str) -> Path:
    """The shipped model ``name`` ("brightfield" or "aglu-brightfield") in ``precision``."""
    if precision not in SUFFIXES:
        raise ConfigError("model.precision", f"must be 'int8' or 'fp32', got {precision!r}")
    models = shipped_models()
    full = name if name.startswith("aglu-") else f"aglu-{name}"
    if full not in models:
        names = ", ".join(n.removeprefix("aglu-") for n in models)
        raise ConfigError("model.name", f"no shipped model {name!r}; shipped: {names}")
    if precision not in models[full]:
        have = ", ".join(models[full])
        raise ConfigError("model.precision", f"{full} ships only {have}, not {precision}")
    return models[full][precision]


def default_model_path(precision: str) -> Path:
    """The embedded default model in ``precision`` (``int8`` or ``fp32``)."""
    return shipped_model_path(DEFAULT_MODEL_NAME, precision)


def session_options(cfg: SessionConfig) -> Any:
    import onnxruntime as ort

    levels = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }
    opts = ort.SessionOptions()
    opts.graph_optimization_level = levels[cfg.graph_optimization]
    opts.intra_op_num_threads = cfg.threads()
    opts.inter_op_num_threads = 1
    opts.enable_mem_pattern = False  # halves peak memory at the same speed
    opts.enable_cpu_mem_arena = cfg.cpu_mem_arena
    opts.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if cfg.allow_spinning else "0"
    )
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def check_providers(providers: tuple[str, ...]) -> None:
    """Refuse providers this onnxruntime build lacks (no silent CPU fallback)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    missing = [p for p in providers if p not in available]
    if missing:
        raise ConfigError(
            "model.providers", f"{missing} not available in this onnxruntime; have {available}"
        )


def load_model(path: str | Path, cfg: SessionConfig) -> LoadedModel:
    """Load, hash and validate a model; one ModelError line for anything wrong."""
    import onnxruntime as ort

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ModelError(str(p), f"cannot read file ({exc.strerror})") from None
    if not data:
        raise ModelError(str(p), "file is empty")
    check_providers(cfg.providers)
    try:
        session = ort.InferenceSession(
            data, sess_options=session_options(cfg), providers=list(cfg.providers)
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(str(p), f"not a loadable ONNX model ({first[:200]})") from None
    meta = session.get_modelmeta().custom_metadata_map
    if CARD_KEY not in meta:
        raise ModelError(str(p), f"has no model card (metadata key '{CARD_KEY}')")
    try:
        card = parse_card(meta[CARD_KEY])
    except ValueError as exc:
        raise ModelError(str(p), str(exc)) from None
    inputs = [i.name for i in session.get_inputs()]
    outputs = tuple(o.name for o in session.get_outputs())
    if inputs != [card.input.name]:
        raise ModelError(
            str(p), f"graph inputs {inputs} do not match card input '{card.input.name}'"
        )
    if outputs != tuple(o.name for o in card.outputs):
        raise ModelError(str(p), f"graph outputs {list(outputs)} do not match the card's outputs")
    sha = hashlib.sha256(data).hexdigest()
    logger.info("loaded model %s (%s, %s, sha256 %s)", card.name, card.precision, p, sha[:12])
    return LoadedModel(str(p), sha, card, session, inputs[0], outputs)

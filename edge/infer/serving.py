"""What the daemon serves with: a loaded, warmed-up model (``Active``), replaced whole by a
reload; and the checks a model must pass before it serves."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.errors import ConfigError, ModelError
from edge.infer.model import LoadedModel, load_model
from edge.infer.quality import QualityMeter, meter_for
from edge.infer.stainer import Stainer

if TYPE_CHECKING:
    from edge.config import EdgeConfig
    from edge.sources import FrameSource

logger = logging.getLogger(__name__)


def check_planes(source: FrameSource, model: LoadedModel) -> None:
    """Refuse a source whose frames can never fill a multi-plane model's input (e.g. the
    2-D simulated microscope for a 13-plane model). A one-plane model stains any plane.
    Sources that cannot know before frames arrive (ingest, a microscope) declare no
    ``stack_planes`` and pass."""
    planes = source.stack_planes
    want = model.card.input_planes
    if want > 1 and planes is not None and planes != want:
        what = "single (Y, X) planes" if planes == 1 else f"stacks of {planes} planes"
        raise ConfigError(
            "source", f"{source.name} delivers {what}; model {model.card.name} takes {want} planes"
        )


@dataclass(frozen=True, slots=True)
class Active:
    """What the worker uses for a frame; replaced whole by a reload."""

    cfg: EdgeConfig
    model: LoadedModel
    stainer: Stainer
    meter: QualityMeter | None  # None: the card has no calibration (frames carry no quality)


def load_active(
    cfg: EdgeConfig,
    shape_px: tuple[int, int],
    on_stainer: Callable[[Stainer], None] | None = None,
    planes: int | None = None,
) -> Active:
    """Load and warm up the model of ``cfg``: AgluError if it cannot serve.
    ``on_stainer`` gets the new stainer before its warm-up (so a stop can cancel it);
    ``planes``: the input planes it must take (a reload cannot change them)."""
    path = cfg.model.model_path()
    model = load_model(path, cfg.model.session())
    if planes is not None and model.card.input_planes != planes:
        raise ModelError(
            str(path),
            f"takes {model.card.input_planes} input planes, the running model {planes}: "
            "that change needs a restart",
        )
    try:
        meter = meter_for(model.card) if cfg.model.quality else None
    except ValueError as exc:
        raise ModelError(str(path), str(exc)) from None
    if meter is None and cfg.model.quality:
        logger.warning("model %s has no calibration: frames carry no quality", model.card.name)
    stainer = Stainer(model, cfg.model.tile_px, cfg.model.max_side_px, cfg.model.whole_frame_max_px)
    if on_stainer is not None:
        on_stainer(stainer)
    try:
        stainer.warm_up(*shape_px)
    except Exception as exc:  # e.g. onnxruntime refuses the frame size the model fixes
        raise ModelError(
            str(path), f"warm-up on {shape_px[0]}x{shape_px[1]} failed: {exc}"
        ) from exc
    return Active(cfg, model, stainer, meter)


def release_freed_memory() -> None:
    """Hand memory freed by a dropped onnxruntime session back to the OS (glibc keeps it
    otherwise: measured with ``aglu-edge soak``, RSS rose ~25 MB over the first reloads).
    A no-op where the C library has no ``malloc_trim``."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()  # the old session goes now, not at some later collection
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)

"""The model ``aglu-train adapt`` starts from: a training checkpoint, or an exported or
shipped ONNX model whose weights are read back into the torch model
(``export.onnx_weights``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.errors import ConfigError, ModelError
from training.config import TrainConfig

# What a model's input and truth depend on: a fine-tuned model keeps its base's rules.
DATA_RULES = (
    "normalize",
    "low_percentile",
    "high_percentile",
    "target_low_percentile",
    "target_high_percentile",
    "nucleus_floor",
    "nucleus_crop_fraction",
    "crop_px",
)


def with_rules(data: TrainConfig, base: TrainConfig) -> TrainConfig:
    """``data``'s recipe with ``base``'s normalisation, nucleus and crop rules."""
    rules = {k: getattr(base.data, k) for k in DATA_RULES}
    return data.model_copy(update={"data": data.data.model_copy(update=rules)})


@dataclass(frozen=True, slots=True)
class Base:
    label: str  # how reports name it
    cfg: TrainConfig  # the recipe it was trained with
    checkpoint: Path  # a torch checkpoint of its weights (fit's ``init``)
    model_file: Path  # the file the report scores as "base" (the one the user named)
    missing: tuple[str, ...] = ()  # parts the file does not hold (export keeps inference only)

    def state_dict(self) -> dict[str, Any]:
        from training.models.build import load_checkpoint

        return load_checkpoint(self.checkpoint)[0].state_dict()


def shipped_path(name: str) -> Path | None:
    """A model shipped with AGLU, by name ("brightfield" or "aglu-brightfield"): its fp32
    file where one is shipped (exact weights), else its int8 one; None: not shipped."""
    from edge.infer.model import shipped_models

    files = shipped_models().get(name if name.startswith("aglu-") else f"aglu-{name}")
    return None if files is None else files.get("fp32", files.get("int8"))


def resolve_base(base: Path, data: TrainConfig, work: Path) -> Base:
    """``base``: a ``.pt`` checkpoint, an ``.onnx`` file with its recipe beside it
    (``NAME.recipe.json`` or the run's ``config.resolved.json``), or a shipped model's
    name. ``work``: where a checkpoint read back from ONNX is written."""
    from training.models.build import load_checkpoint

    if base.suffix == ".pt":
        if not base.is_file():
            raise ConfigError(str(base), "no such checkpoint")
        _, cfg = load_checkpoint(base)
        return Base(base.stem, cfg, base, base)
    path = base if base.suffix == ".onnx" else shipped_path(str(base))
    if path is None or not path.is_file():
        raise ConfigError(
            str(base), "neither a .pt checkpoint, an .onnx file nor a shipped model's name"
        )
    from export.onnx_weights import checkpoint_from_onnx
    from export.ship import load_recipe

    label = path.name.split(".")[0]
    trained = load_recipe(recipe_beside(path))
    checkpoint = checkpoint_from_onnx(
        path, trained, with_rules(data, trained), work / f"{label}.pt"
    )
    _, cfg = load_checkpoint(checkpoint)
    return Base(label, cfg, checkpoint, path, missing_in(checkpoint))


def missing_in(checkpoint: Path) -> tuple[str, ...]:
    """The model parts a checkpoint read back from ONNX does not hold."""
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return tuple(saved.get("read_back", {}).get("missing_auxiliary", ()))


def recipe_beside(model: Path) -> Path:
    """The recipe an exported or shipped model was trained with, beside it."""
    stem = model.name.split(".")[0]
    candidates = (
        model.with_name(f"{stem}.recipe.json"),  # shipped models
        model.parent / "config.resolved.json",
        model.parent.parent / "config.resolved.json",  # a run's export/ folder
    )
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise ModelError(
            str(model),
            f"no recipe beside it ({stem}.recipe.json or config.resolved.json): "
            "its architecture is unknown",
        )
    return found

"""The model ``aglu-train adapt`` starts from: a training checkpoint, or an exported or
shipped ONNX model whose weights are read back into the torch model
(``export.onnx_weights``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def shipped_path(name: str) -> Path | None:
    """A model shipped with AGLU, by name ("brightfield" or "aglu-brightfield"): its fp32
    file where one is shipped (exact weights), else its int8 one; None: not shipped."""
    from edge.infer.model import shipped_models

    files = shipped_models().get(name if name.startswith("aglu-") else f"aglu-{name}")
    return None if files is None else files.get("fp32", files.get("int8"))


def check_fit(base: TrainConfig, data: TrainConfig, base_name: str) -> None:
    """The data must be what the base model reads: same modality and input planes."""
    if base.data.modality != data.data.modality:
        raise ConfigError(
            "modality",
            f"the data is {data.data.modality}, {base_name} reads {base.data.modality}",
        )
    if base.data.planes != data.data.planes:
        raise ConfigError(
            "planes",
            f"the data has {data.data.planes} input plane(s), {base_name} reads {base.data.planes}",
        )


def resolve_base(base: Path, data: TrainConfig, work: Path) -> Base:
    """``base``: a ``.pt`` checkpoint, an ``.onnx`` file with its recipe beside it
    (``NAME.recipe.json`` or the run's ``config.resolved.json``), or a shipped model's
    name; refused in one line where it cannot read ``data`` (checked before any weights
    are read back on it). ``work``: where a checkpoint read back from ONNX is written."""
    if base.suffix == ".pt":
        from training.models.build import load_checkpoint

        if not base.is_file():
            raise ConfigError(str(base), "no such checkpoint")
        _, cfg = load_checkpoint(base)
        check_fit(cfg, data, base.stem)
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
    check_fit(trained, data, label)
    checkpoint, missing = checkpoint_from_onnx(
        path, trained, with_rules(data, trained), work / f"{label}.pt"
    )
    return Base(label, trained, checkpoint, path, missing)


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

"""``aglu-train adapt DATA --base MODEL``: a model for the lab's own microscope from a few
paired fields, in one command (issue 27).

1. Plan: the base model's recipe (model, loss, augmentation, normalisation) on the
   lab's data (``DATA``: a folder ``aglu-edge capture`` wrote, or any recipe TOML). A
   *field* is a file (one stage position), or a group of the data's ``group_pattern``.
   At least one field is held out for the report; the model trains on the others. With
   so few fields there is no validation split: the last step is kept
   (``data.validation = "training"``), and nothing held out chooses anything.
2. Budget: ``--minutes`` of training on this machine, turned into a step count by timing
   real steps first (``training.fit.probe``); the count is written in the recipe, so a
   rerun of the recipe is the same run.
3. Fine-tune from the base's weights (``fit`` with ``init``), learning rate x0.25.
4. Export fp32 + int8 (the int8 gate on the training fields: there is no other
   validation data; where it refuses, int8 with the DAPI decoder kept fp32, gated the
   same way; where that is refused too, the fp32 file), then ``aglu-ship``: sigma
   calibration and input statistics from the lab's training fields; the held-out
   fields' coverage is reported in the card.
5. Report (``aglu-train compare``'s): base vs adapted vs both no-learning floors
   (fitted on the same training fields) on the held-out fields, per field, with
   intervals and the panel.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from export.base import Base, resolve_base, with_rules
from training.config import FilesData, TrainConfig, load_train_config, parse_train_config
from training.data.fields import group_of, load_real_pairs

logger = logging.getLogger(__name__)

# One field per file: the file's name without its extension(s).
FIELD_PATTERN = r"([^/\\\[]+?)(?:\.ome)?\.(?:tiff?|png|zarr|npy)\b"
LR_FACTOR = 0.25  # fine-tuning: a quarter of the base recipe's peak learning rate
MIN_STEPS = 20
# loss terms that need the parts an export drops (export.onnx_weights.AUXILIARY)
AUXILIARY_TERMS = ("dapi_rec_weight", "qpi_rec_weight", "kl_weight", "latent_weight")


@dataclass(frozen=True, slots=True)
class AdaptOptions:
    minutes: float = 10.0  # training budget on this machine
    steps: int | None = None  # a fixed step count instead of the budget
    test_fields: tuple[str, ...] = ()  # default: the last ``hold_out`` fields
    hold_out: int = 1
    train_fields: tuple[str, ...] = ()  # default: every field not held out
    seed: int = 0
    threads: int = 0  # torch CPU threads (0: one per core)
    name: str | None = None  # default: "<base>-<data folder>"
    licence: str = "the lab's own data: see its owner"
    ship: bool = True  # calibrate sigma and fit input statistics (aglu-ship)
    draws: int = 1000  # bootstrap draws of the report


@dataclass(frozen=True, slots=True)
class AdaptResult:
    recipe: Path
    checkpoint: Path
    model: Path  # the file to deploy (int8 where its gate passed)
    report: Path
    steps: int
    steps_per_s: float
    train_fields: tuple[str, ...]
    test_fields: tuple[str, ...]
    phases_s: dict[str, float] = field(default_factory=dict)


def load_data_recipe(path: Path) -> TrainConfig:
    """A recipe TOML, or a folder holding one (``recipe.toml``, as capture writes)."""
    recipe = path / "recipe.toml" if path.is_dir() else path
    if not recipe.is_file():
        raise ConfigError(str(path), "neither a recipe TOML nor a folder with recipe.toml")
    cfg = load_train_config(recipe)
    if cfg.data.source == "simulated":
        raise ConfigError(str(recipe), "its data is simulated: adapt needs the lab's own fields")
    if isinstance(cfg.data, FilesData):
        raise ConfigError(
            str(recipe), "one image pair (source = 'files') has no fields to hold out"
        )
    return cfg


def field_pattern(cfg: TrainConfig) -> str:
    return cfg.data.group_pattern or FIELD_PATTERN


def field_names(cfg: TrainConfig) -> list[str]:
    """The data's fields, in reading order (each once)."""
    pattern = field_pattern(cfg)
    names: list[str] = []
    for pair in load_real_pairs(cfg.data):
        name = group_of(pair.origin, pattern)
        if name not in names:
            names.append(name)
    return names


def choose_fields(names: list[str], opts: AdaptOptions) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training fields, held-out fields); one-line errors for what cannot be split."""
    unknown = sorted(set(opts.test_fields + opts.train_fields) - set(names))
    if unknown:
        raise ConfigError("fields", f"no field(s) {unknown} in the data; it has {names}")
    if opts.test_fields:
        test = opts.test_fields
    else:
        if not 1 <= opts.hold_out < len(names):
            raise ConfigError(
                "hold_out",
                f"{opts.hold_out} of {len(names)} field(s): at least one field must be held out "
                "for the report and at least one left to train on",
            )
        test = tuple(names[-opts.hold_out :])
    train = opts.train_fields or tuple(n for n in names if n not in test)
    both = sorted(set(train) & set(test))
    if both:
        raise ConfigError("fields", f"{both} both trained on and held out")
    if not train:
        raise ConfigError("fields", "no field left to train on")
    return train, test


def with_fields(data: TrainConfig, train: tuple[str, ...], test: tuple[str, ...]) -> TrainConfig:
    """The data recipe split by field: train on ``train``, hold out ``test``, no
    validation split of its own."""
    split = {
        "group_pattern": field_pattern(data),
        "train_groups": train,
        "test_groups": test,
        "val_groups": (),
        "validation": "training",
    }
    raw = data.model_dump(mode="python")
    raw["data"] |= split
    raw["optim"]["val_every"] = 0
    return parse_train_config(raw, "adapt data")


def adapt_recipe(
    base: Base,
    data: TrainConfig,
    train: tuple[str, ...],
    test: tuple[str, ...],
    steps: int,
    name: str,
    opts: AdaptOptions,
) -> TrainConfig:
    """The fine-tuning recipe: the base's model, loss, augmentation and normalisation
    rules on the lab's fields; one stage of ``steps``; the last step kept. A base read
    back from ONNX lacks the auxiliary VAE parts: their loss terms are off."""
    raw: dict[str, Any] = base.cfg.model_dump(mode="python")
    own = with_rules(with_fields(data, train, test), base.cfg).data.model_dump(mode="python")
    raw["data"] = own | {"seed": opts.seed}
    one = "end_to_end_steps" if base.cfg.model.kind == "aglu" else "pixel_steps"
    raw["stages"] = dict.fromkeys(raw["stages"], 0) | {one: steps}
    raw["loss"]["warmup_steps"] = 0  # the base already learnt the full weighting
    if base.missing:
        raw["loss"] |= dict.fromkeys(AUXILIARY_TERMS, 0.0)
    raw["optim"] |= {
        "lr": base.cfg.optim.lr * LR_FACTOR,
        "seed": opts.seed,
        "val_every": 0,
        "threads": opts.threads,
        "checkpoint_every": max(1, min(250, steps)),
    }
    raw["name"], raw["init"] = name, base.checkpoint
    return parse_train_config(raw, "adapt recipe")


def write_recipe(cfg: TrainConfig, path: Path, header: str) -> None:
    """The recipe as TOML (``aglu-train fit`` reruns it); fields left None are omitted."""
    import tomli_w

    text = tomli_w.dumps(cfg.model_dump(mode="json", exclude_none=True))
    path.write_text("".join(f"# {line}\n" for line in header.splitlines()) + text)
    if load_train_config(path).sha256() != cfg.sha256():  # what was written reads back
        raise ConfigError(str(path), "the written recipe does not read back the same")


def _data_name(path: Path) -> str:
    """The data's name: its folder's (capture), or the recipe file's stem."""
    return path.name if path.is_dir() else path.stem


def _fields_hint(names: list[str]) -> str:
    return ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")


def run_adapt(
    data_path: Path,
    base_path: Path,
    out: Path,
    opts: AdaptOptions,
    say: Callable[[str], None] = logger.info,
) -> AdaptResult:
    """Plan, budget, fine-tune, export, ship and report into the new folder ``out``."""
    from training.data.fields import build_fields
    from training.fit.probe import steps_per_s
    from training.fit.train import fit
    from training.models.build import load_checkpoint

    if out.exists() and any(out.iterdir()):
        raise ConfigError(str(out), "exists and is not empty; refusing to overwrite")
    phases: dict[str, float] = {}
    t0 = time.monotonic()
    created = not out.exists()
    try:
        data = load_data_recipe(data_path)
        names = field_names(data)
        train, test = choose_fields(names, opts)
        say(f"fields: train on {_fields_hint(list(train))}; hold out {_fields_hint(list(test))}")
        out.mkdir(parents=True, exist_ok=True)
        # a read-back base fits its batch norms on the training fields only
        base = resolve_base(base_path, with_fields(data, train, test), out / "base")
        name = opts.name or re.sub(
            r"[^A-Za-z0-9_.-]+", "-", f"{base.label}-{_data_name(data_path)}"
        )
        phases["plan"] = time.monotonic() - t0
        if opts.steps is not None:
            steps, rate = opts.steps, float("nan")
        else:
            t1 = time.monotonic()
            probe = adapt_recipe(base, data, train, test, 1, name, opts)
            model, _ = load_checkpoint(base.checkpoint)
            rate = steps_per_s(probe, build_fields(probe, "train"), model)
            steps = int(opts.minutes * 60 * rate)
            phases["probe"] = time.monotonic() - t1
            say(f"{rate:.2f} steps/s here: {opts.minutes:g} min = {steps} steps")
        if steps < MIN_STEPS:
            raise ConfigError("minutes", f"{steps} step(s) fit the budget; at least {MIN_STEPS}")
        recipe = adapt_recipe(base, data, train, test, steps, name, opts)
        run_dir = out / "run"
        recipe_path = out / "recipe.toml"
        write_recipe(
            recipe,
            recipe_path,
            f"aglu-train adapt {data_path} --base {base_path}: the fine-tuning recipe.\n"
            f"Rerun: aglu-train fit {recipe_path.name} --out {out.name}",
        )
    except BaseException:
        if created:  # a plan that failed leaves nothing behind: the same command can rerun
            shutil.rmtree(out, ignore_errors=True)
        raise
    t1 = time.monotonic()
    result = fit(recipe, run_dir)
    phases["train"] = time.monotonic() - t1
    t1 = time.monotonic()
    model_path = _export_and_ship(result.checkpoint, run_dir, out, name, opts, say)
    phases["export and ship"] = time.monotonic() - t1
    t1 = time.monotonic()
    report = _report(recipe_path, base, model_path, out / "report", opts, train, test)
    phases["report"] = time.monotonic() - t1
    phases["total"] = time.monotonic() - t0
    return AdaptResult(
        recipe_path, result.checkpoint, model_path, report, steps, rate, train, test, phases
    )


def _export_and_ship(
    checkpoint: Path,
    run_dir: Path,
    out: Path,
    name: str,
    opts: AdaptOptions,
    say: Callable[[str], None],
) -> Path:
    """fp32 + int8 (its gate on the training fields; then the decoder-fp32 fallback), then
    aglu-ship; the file to deploy. Where the gate refuses both int8 files, the fp32 one is
    shipped, and that is said."""
    from export.pipeline import ExportOptions, ParityGateError, run_export
    from export.quantize import DECODER
    from export.ship import ShipOptions, run_ship

    export_dir = run_dir / "export"
    try:
        exported = run_export(checkpoint, export_dir, ExportOptions(int8_fallbacks=(DECODER,)))
        assert exported.int8 is not None
        built, precision = exported.int8, "int8"
        if exported.int8_kept_fp32:
            say(
                f"int8 with {', '.join(exported.int8_kept_fp32)} kept fp32 (the all-int8 file "
                f"failed the gate; int8 vs fp32 r {exported.parity.fp32_vs_int8_pearson_r:.4f})"
            )
    except ParityGateError as exc:
        say(f"{exc}: the fp32 model is the one shipped")
        built, precision = export_dir / f"{name}.onnx", "fp32"
    target = out / f"{name}.{precision}.onnx" if precision == "int8" else out / f"{name}.onnx"
    if not opts.ship:
        shutil.copyfile(built, target)
        return target
    source = f"aglu-train adapt: {checkpoint.parent.parent / 'recipe.toml'}"
    run_ship(
        built,
        run_dir / "config.resolved.json",
        target,
        ShipOptions(name=name, licence=opts.licence, source=source),
    )
    return target


def _report(
    recipe: Path,
    base: Base,
    model: Path,
    out: Path,
    opts: AdaptOptions,
    train: tuple[str, ...],
    test: tuple[str, ...],
) -> Path:
    """aglu-train compare's report: adapted vs base vs both floors on the held-out fields,
    with ``compare.toml`` beside it (``aglu-train compare out/report/compare.toml``)."""
    import tomli_w

    from training.crossval import compare as cmp
    from training.crossval.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "compare.toml"
    spec = {
        "title": f"{model.name} adapted from {base.label}: held-out field(s) {', '.join(test)}",
        "description": (
            f"aglu-train adapt: {base.label} fine-tuned on {len(train)} field(s) "
            f"({', '.join(train)}) of the lab's data; scored on the held-out field(s) "
            f"{', '.join(test)}, which chose nothing (no checkpoint selection, the int8 gate "
            "and the sigma calibration on the training fields). The units below called "
            "experiments are the fields (stage positions) of this one dataset, so the "
            "intervals cover fields, not setups. Both floors are fitted on the same "
            "training fields."
        ),
        "recipe": str(recipe.resolve()),
        "draws": opts.draws,
        "rows": [
            {"label": "adapted", "models": [str(model.resolve())], "recipe": str(recipe.resolve())},
            {
                "label": "base",
                "note": base.label,
                "models": [str(base.model_file.resolve())],
                "recipe": str(recipe.resolve()),
            },
        ],
        "compare": {"challenger": "adapted"},
    }
    spec_path.write_text(
        f"# aglu-train compare {spec_path}: this report, again\n" + tomli_w.dumps(spec)
    )
    loaded = cmp.load_spec(spec_path)
    study = cmp.run(loaded)
    return write_report(study, out, f"aglu-train compare {spec_path}", loaded.draws)

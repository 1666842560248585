"""The shipped model is the product of the shipped recipe, and its recorded metrics are real."""

import json
from importlib import resources
from pathlib import Path

from edge.infer.model import SessionConfig, default_model_path, load_model
from training.config import load_train_config
from training.evaluate.predictors import default_recipe_path

MODELS = Path(str(resources.files("edge") / "models"))


def test_card_recipe_hash_matches_the_shipped_recipe() -> None:
    recipe = load_train_config(default_recipe_path())
    for precision in ("fp32", "int8"):
        card = load_model(default_model_path(precision), SessionConfig()).card
        assert card.recipe_sha256 == recipe.sha256(), f"{precision} model was not trained from it"
        assert card.name == recipe.name


def test_card_metrics_are_the_recorded_export_parity() -> None:
    card = load_model(default_model_path("int8"), SessionConfig()).card
    parity = json.loads((MODELS / "aglu-qpi.parity.json").read_text())
    assert parity == card.metrics
    assert card.metrics["fp32_vs_int8_pearson_r"] >= 0.995  # the export gate


def test_recorded_evaluation_meets_the_issue_goals() -> None:
    """Issue 3's goals on held-out simulated fields, as recorded by `aglu-train evaluate`."""
    report = json.loads((MODELS / "aglu-qpi.metrics.json").read_text())
    int8 = report["results"]["aglu-qpi.int8.onnx"]
    assert int8["pearson_r"] >= 0.90
    assert int8["nuclei_halfmax_recall"] >= 0.95
    assert int8["nuclei_halfmax_faint_quartile_recall"] >= 0.90


def test_shipped_int8_reproduces_its_recorded_pearson() -> None:
    """Re-evaluate on 2 of the recorded fields' seeds: same data, same model -> same number
    within 0.03 (a 2-field subset of the 16 recorded)."""
    from training.evaluate.predictors import onnx_predictor
    from training.evaluate.score import evaluate

    cfg = load_train_config(default_recipe_path())
    got = evaluate(onnx_predictor(default_model_path("int8")), cfg, 2, 256)
    report = json.loads((MODELS / "aglu-qpi.metrics.json").read_text())
    assert abs(got["pearson_r"] - report["results"]["aglu-qpi.int8.onnx"]["pearson_r"]) < 0.03


def test_real_modality_models_carry_their_recipe_licence_and_test_figures() -> None:
    """brightfield and phase: the card's recipe hash is that of the run config beside the
    model, the training data's licence is named, and the held-out figures are recorded
    beside the floors' and the cross-validated ones."""
    from export.ship import load_recipe

    for name, modality, planes, licence in (
        ("brightfield", "bright-field", 1, "CC-BY 4.0"),
        ("phase", "phase-contrast", 13, "Apache-2.0"),
    ):
        card = load_model(MODELS / f"aglu-{name}.int8.onnx", SessionConfig()).card
        recipe = load_recipe(MODELS / f"aglu-{name}.recipe.json")
        assert card.recipe_sha256 == recipe.sha256() and card.name == f"aglu-{name}"
        assert (card.modality, card.input_planes) == (modality, planes)
        assert card.training_data is not None and card.training_data.licence == licence
        # issue 23's yardstick: the model's mean per-experiment r beside both no-learning
        # floors on its test split, and its recipe's cross-validated (expected) figure
        assert {
            "test_pearson_r",
            "test_texture_floor_pearson_r",
            "test_ridge_floor_pearson_r",
            "test_f1",
            "crossval_pearson_r",
            "crossval_pearson_r_low",
            "crossval_texture_floor_pearson_r",
        } <= card.metrics.keys()
        assert not any(k.startswith("test_u-net") for k in card.metrics)
        assert card.calibration is not None and card.input_stats is not None

"""The shipped model is the product of the shipped recipe, and its recorded metrics are real."""

import json
from importlib import resources
from pathlib import Path

from edge.model import SessionConfig, default_model_path, load_model
from training.config import load_train_config
from training.predictors import default_recipe_path


def test_card_recipe_hash_matches_the_shipped_recipe() -> None:
    recipe = load_train_config(default_recipe_path())
    for precision in ("fp32", "int8"):
        card = load_model(default_model_path(precision), SessionConfig()).card
        assert card.recipe_sha256 == recipe.sha256(), f"{precision} model was not trained from it"
        assert card.name == recipe.name


def test_metrics_file_records_the_exported_parity() -> None:
    card = load_model(default_model_path("int8"), SessionConfig()).card
    path = Path(str(resources.files("edge") / "models" / "aglu-default.metrics.json"))
    recorded = json.loads(path.read_text())
    assert recorded["export_parity"] == card.metrics
    assert recorded["held_out_evaluation"]["results"]["onnx_int8"]["pearson_r"] > 0.7

"""aglu-ship on a real (tiny) exported model: calibration and input statistics in the card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.infer.model import SessionConfig, load_model
from edge.infer.quality import meter_for
from export.ship import KINDS, ShipError, ShipOptions, run_ship
from export.ship_report import write_report


def test_ship_stamps_calibration_statistics_and_licence(
    tiny_stack_export,
    tiny_stack_recipe: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "aglu-tiny.int8.onnx"
    opts = ShipOptions(name="aglu-tiny", licence="CC0", source="tests/conftest.py")
    report = run_ship(tiny_stack_export.int8, tiny_stack_recipe, out, opts)
    loaded = load_model(out, SessionConfig())
    card = loaded.card
    assert card.name == "aglu-tiny" and card.version == 3
    assert card.training_data is not None and card.training_data.licence == "CC0"
    assert card.calibration is not None and set(card.calibration.level_scales) == {"50", "90", "95"}
    assert (
        card.calibration.sigma_scale == card.calibration.level_scales["90"]
        or abs(card.calibration.sigma_scale - card.calibration.level_scales["90"]) < 1e-5
    )
    # quantile recalibration: each level covers its share of the validation pixels
    for level in ("50", "90", "95"):
        assert report.coverage["val"][level] == pytest.approx(int(level) / 100, abs=0.02)
    assert card.input_stats is not None
    assert set(KINDS) <= set(card.input_stats.flag_rates)
    assert card.input_stats.flag_rates["blank"] == 1.0
    assert meter_for(card) is not None
    # the weights are untouched: same outputs as the exported file
    before = load_model(tiny_stack_export.int8, SessionConfig())
    assert before.card.weights_sha256 == card.weights_sha256
    path = write_report(report, tmp_path / "report", "aglu-ship test")
    assert (tmp_path / "report" / "calibration.png").stat().st_size > 0
    assert "## Sigma calibration" in path.read_text()
    assert (
        json.loads((tmp_path / "report" / "quality.json").read_text())["card"]["name"]
        == "aglu-tiny"
    )


def test_ship_refuses_a_recipe_the_model_was_not_trained_with(
    tiny_stack_export,
    tiny_stack_recipe: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    other = tmp_path / "recipe.toml"
    other.write_text(tiny_stack_recipe.read_text().replace("lr = 1e-3", "lr = 2e-3"))
    (tmp_path / "stack.tif").symlink_to(tiny_stack_recipe.parent / "stack.tif")
    (tmp_path / "target.tif").symlink_to(tiny_stack_recipe.parent / "target.tif")
    with pytest.raises(ShipError, match=r"config\.resolved\.json"):
        run_ship(tiny_stack_export.int8, other, tmp_path / "x.onnx", ShipOptions("x", "CC0"))
    assert not (tmp_path / "x.onnx").exists()

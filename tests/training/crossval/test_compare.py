"""`aglu-train compare` on real (tiny) models and files."""

from pathlib import Path

import numpy as np
import pytest

from edge.errors import ConfigError


def _spec(tmp_path: Path, recipe: Path, rows: str) -> Path:
    spec = tmp_path / "compare.toml"
    spec.write_text(
        f'title = "tiny"\nrecipe = "{recipe}"\ndraws = 50\n{rows}\n'
        '[compare]\nchallenger = "torch"\n'
    )
    return spec


def test_compare_scores_rows_of_seeds_and_writes_the_report(
    tmp_path: Path, tiny_stack_recipe: Path, tiny_stack_checkpoint: Path, tiny_stack_export
) -> None:  # type: ignore[no-untyped-def]
    """The same model as torch and as ORT fp32, two 'seeds' each, on its recipe's test
    split: equal scores within fp32 reassociation; the report has its sections."""
    import json

    from training.crossval import compare
    from training.crossval.report import write_report

    pt, onnx = tiny_stack_checkpoint, tiny_stack_export.fp32
    rows = (
        f'[[rows]]\nlabel = "torch"\nmodels = ["{pt}", "{pt}"]\n'
        f'[[rows]]\nlabel = "onnx"\nmodels = ["{onnx}", "{onnx}"]\n'
    )
    spec = compare.load_spec(_spec(tmp_path, tiny_stack_recipe, rows))
    study = compare.run(spec)
    a, b = study.row("torch").stats, study.row("onnx").stats
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)  # fp32 reassociation
    assert {r.label for r in study.rows} == {"torch", "onnx", "texture floor", "ridge floor"}
    assert len(study.units) == 1  # a 96 x 32 test strip: one unit (smaller than a tile)
    report = write_report(study, tmp_path / "out", "aglu-train compare x", spec.draws)
    text = report.read_text()
    assert "Input modality: **phase contrast**" in text and "## Paired differences" in text
    assert "| torch | 2 |" in text and "not separable" in text  # identical models
    # named files are what they score, not a recipe's expected figure
    assert "one file is one draw" in text and "expected figures" not in text
    assert "by a model that never saw it" not in text
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["modality"] == "phase-contrast" and data["rows"]["onnx"]["seeds"] == [0, 1]
    assert (tmp_path / "out" / "panel-fold1.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_spec_errors_name_the_problem(tmp_path: Path, tiny_stack_recipe: Path) -> None:
    from training.crossval import compare

    rows = '[[rows]]\nlabel = "torch"\nmodels = ["x.pt"]\n'
    with pytest.raises(ConfigError, match=r"x\.pt does not exist"):
        compare.load_spec(_spec(tmp_path, tiny_stack_recipe, rows))
    with pytest.raises(ConfigError, match="missing or bad spec field"):
        (tmp_path / "bad.toml").write_text('title = "x"\n')
        compare.load_spec(tmp_path / "bad.toml")
    (tmp_path / "old.toml").write_text('title = "x"\nrecipe = "r"\nblock_px = 64\n')
    with pytest.raises(ConfigError, match="unknown spec field"):
        compare.load_spec(tmp_path / "old.toml")

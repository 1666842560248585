"""Replace the held-out figures in a shipped model's card; the weights stay as they are.

Issue 23 changed the yardstick (mean per-experiment r, hierarchical intervals, floors),
so the cards' old `test_*` figures (pooled r, block bootstrap, U-Net rows of runs
that are gone) are replaced by:
- `test_*`: the model's own row of an `aglu-train compare` metrics.json, and
  `test_<floor>_*` for both floors there (same test split);
- `crossval_*`: the expected figure (mean over folds and seeds) of the model's recipe
  in an `aglu-train crossval` metrics.json, with `_low`/`_high` interval ends, and
  the floors' expected figures beside it.

Usage: python tools/restamp_test_figures.py MODEL.onnx --compare METRICS.json
           [--crossval METRICS.json --crossval-row ROW]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.infer.model import SessionConfig, load_model
from export.onnx_graph import stamp_card
from export.ship import test_metrics

KEEP = ("torch_vs_fp32", "fp32_vs_int8", "recall_fp32", "recall_int8")
METRICS = ("pearson_r", "ssim", "f1", "faint_quartile_recall", "pooled_pearson_r")


def crossval_metrics(path: Path, row: str) -> dict[str, float]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    rows = doc["rows"]
    if row not in rows:
        raise SystemExit(f"{path}: no row {row!r}; rows are {list(rows)}")
    out: dict[str, float] = {}
    for label, r in rows.items():
        if label != row and r["kind"] != "floor":
            continue
        prefix = "crossval" if label == row else "crossval_" + label.replace(" ", "_")
        for m in METRICS:
            iv = r["headline"][m]
            for key, suffix in (("value", ""), ("low", "_low"), ("high", "_high")):
                if iv[key] is not None and (label == row or suffix == ""):
                    out[f"{prefix}_{m}{suffix}"] = float(f"{iv[key]:.4g}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--compare", type=Path, required=True)
    ap.add_argument("--crossval", type=Path)
    ap.add_argument("--crossval-row")
    args = ap.parse_args()
    card = load_model(args.model, SessionConfig()).card
    metrics = {k: v for k, v in card.metrics.items() if k.startswith(KEEP)}
    metrics |= test_metrics(args.compare, None)
    if args.crossval is not None:
        metrics |= crossval_metrics(args.crossval, args.crossval_row)
    stamp_card(args.model, card.model_copy(update={"metrics": metrics}))
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()

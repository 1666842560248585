"""torch -> one ONNX graph with dynamic H/W, named I/O, checked and card-stamped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from edge.infer.card import CARD_KEY, ModelCard

INPUT_NAME = "qpi"
OUTPUT_NAMES = ("dapi", "sigma")
OPSET = 18


def export_fp32(model: torch.nn.Module, path: Path, stride_px: int, planes: int = 1) -> None:
    """Export with the dynamo exporter; input (1, planes, H, W), H and W dynamic multiples
    of ``stride_px``."""
    model.eval()
    example = torch.zeros(1, planes, 2 * stride_px, 2 * stride_px)
    h, w = torch.export.Dim("h", min=1, max=1024), torch.export.Dim("w", min=1, max=1024)
    program = torch.onnx.export(
        model,
        (example,),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=list(OUTPUT_NAMES),
        dynamic_shapes={"qpi": {2: stride_px * h, 3: stride_px * w}},
        opset_version=OPSET,
        optimize=True,
        verbose=False,
    )
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    program.save(str(path))
    check(path)


def check(path: Path) -> None:
    import onnx

    onnx.checker.check_model(str(path), full_check=True)


def stamp_card(path: Path, card: ModelCard) -> None:
    """Write the model card JSON into the ONNX metadata (replacing any earlier card)."""
    import onnx

    model: Any = onnx.load(str(path))
    props = [p for p in model.metadata_props if p.key != CARD_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    entry = model.metadata_props.add()
    entry.key, entry.value = CARD_KEY, json.dumps(card.model_dump(mode="json"))
    model.producer_name = "aglu-export"
    onnx.save(model, str(path))

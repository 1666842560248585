"""BioImage Model Zoo (bioimage.io) package: the ONNX weights, test tensors and an RDF
(model format 0.5), validated with the bioimageio.spec library, so the model also runs
in Fiji/deepImageJ/ilastik.

The RDF's preprocessing is ``scale_range`` with the card's percentiles: the same
(x - p_low) / (p_high - p_low) the edge applies. The test output is what the edge's
stainer returns for the test input.
"""

from __future__ import annotations

import gc
import hashlib
import shutil
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import AgluError
from edge.infer.model import SessionConfig, load_model
from edge.infer.stainer import Stainer
from edge.sim.phantom import SimulationConfig, simulate_pair
from export.onnx_graph import OPSET


class PackageError(AgluError):
    pass


def _axes(
    channel: str, tensor_id: str | None, stride: int, planes: int = 1
) -> list[dict[str, Any]]:
    space: list[dict[str, Any]] = [
        {"type": "space", "id": a, "size": {"min": 2 * stride, "step": stride}}
        if tensor_id is None
        else {"type": "space", "id": a, "size": {"tensor_id": tensor_id, "axis_id": a}}
        for a in ("y", "x")
    ]
    names = [channel] if planes == 1 else [f"{channel}_z{k}" for k in range(planes)]
    return [{"type": "batch"}, {"type": "channel", "channel_names": names}, *space]


def _preprocessing(card: Any) -> list[dict[str, Any]]:
    """The edge's normalisation in bioimage.io terms: ``scale_range`` with the card's
    percentiles (per frame, all planes jointly), or ``scale_linear`` with its fixed values."""
    n = card.normalization
    axes = ["y", "x"] if card.input_planes == 1 else ["channel", "y", "x"]
    if n.method == "fixed":
        gain = 1.0 / (n.high_value - n.low_value)
        return [{"id": "scale_linear", "kwargs": {"gain": gain, "offset": -n.low_value * gain}}]
    return [
        {
            "id": "scale_range",
            "kwargs": {
                "axes": axes,
                "min_percentile": n.low_percentile,
                "max_percentile": n.high_percentile,
            },
        }
    ]


def rdf(onnx_name: str, card: Any, files: dict[str, str]) -> dict[str, Any]:
    """The model RDF (format 0.5) for an AGLU ONNX file with its card."""
    out_ids = [o.name for o in card.outputs]
    return {
        "type": "model",
        "format_version": "0.5.4",
        "name": f"AGLU {card.name}",
        "description": f"Virtual DAPI staining from label-free {card.input.description} "
        f"({card.input_planes} plane(s)), one deterministic pass, with a per-pixel "
        "uncertainty (sigma) output.",
        "authors": [{"name": "AGLU developers"}],
        "cite": [
            {"text": "Oktay et al. 2018, Attention U-Net", "doi": "10.48550/arXiv.1804.03999"}
        ],
        "license": "Apache-2.0",
        "documentation": files["README.md"],
        "tags": ["virtual-staining", card.modality, "dapi", "nuclei", "onnx", "2d"],
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": [
            {
                "id": card.input.name,
                "description": f"{card.input.description} ({card.input.units})",
                "axes": _axes(card.input.name, None, card.stride_px, card.input_planes),
                "test_tensor": {"source": files["test_input.npy"]},
                "data": {"type": "float32"},
                "preprocessing": _preprocessing(card),
            }
        ],
        "outputs": [
            {
                "id": o,
                "description": f"{d.description} ({d.units})",
                "axes": _axes(o, card.input.name, card.stride_px),
                "test_tensor": {"source": files[f"test_output_{o}.npy"]},
                "data": {"type": "float32"},
            }
            for o, d in zip(out_ids, card.outputs, strict=True)
        ],
        "weights": {
            "onnx": {"source": onnx_name, "opset_version": OPSET, "sha256": files["onnx_sha256"]}
        },
    }


def _readme(card: Any) -> str:
    metrics = "\n".join(f"| {k} | {v:.6g} |" for k, v in card.metrics.items())
    return (
        f"# {card.name} ({card.precision})\n\n"
        f"AGLU virtual staining: label-free {card.input.description} ({card.input.units}) in, "
        "predicted DAPI and a "
        "per-pixel uncertainty (sigma) out, in one deterministic pass. The full model card is "
        "the `aglu.model_card` entry of the ONNX metadata.\n\n"
        f"Training data: {card.dataset}.\n\n"
        "# Validation\n\n"
        "Export parity measured by `aglu-export` on held-out frames (torch vs ONNX fp32, "
        "fp32 vs int8; nuclei recall at IoU >= 0.5):\n\n"
        f"| metric | value |\n|---|---|\n{metrics}\n"
    )


def write_package(onnx_path: Path, out_zip: Path, side_px: int = 256) -> Path:
    """Write and validate ``out_zip``; PackageError names the first validation problem."""
    from bioimageio.spec import ValidationContext, build_description, save_bioimageio_package

    model = load_model(onnx_path, SessionConfig())
    plane = simulate_pair(SimulationConfig(height_px=side_px, width_px=side_px), 7).qpi_rad
    planes = model.card.input_planes
    qpi = plane if planes == 1 else np.stack([plane] * planes)
    outputs = Stainer(model).stain(qpi)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(onnx_path, root / onnx_path.name)
        np.save(root / "test_input.npy", qpi.reshape(1, planes, side_px, side_px))
        for name, arr in outputs.items():
            np.save(root / f"test_output_{name}.npy", arr[None, None])
        (root / "README.md").write_text(_readme(model.card))
        files = {p.name: p.name for p in root.iterdir()}
        files["onnx_sha256"] = hashlib.sha256((root / onnx_path.name).read_bytes()).hexdigest()
        # bioimageio.spec 0.5.14 leaves the files it hashes and packs open: ignore its
        # ResourceWarnings here and collect the handles before the folder is removed.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            with ValidationContext(root=root, perform_io_checks=True):
                descr = build_description(rdf(onnx_path.name, model.card, files))
            summary = descr.validation_summary
            if summary.status not in ("valid-format", "passed"):
                errors = [f"{e.loc}: {e.msg}" for d in summary.details for e in d.errors]
                problem = errors[0] if errors else summary.status
                raise PackageError(f"bioimage.io RDF invalid: {problem}")
            out_zip.parent.mkdir(parents=True, exist_ok=True)
            save_bioimageio_package(descr, output_path=out_zip)
            del descr
            gc.collect()
    return out_zip

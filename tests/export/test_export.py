"""Real export of a tiny trained checkpoint: ONNX checker, ORT runs, cards, parity."""

import gc
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from edge.infer.model import SessionConfig, load_model
from edge.infer.stainer import Stainer
from export.pipeline import ExportOptions, ParityGateError, _gate_problems, weights_sha256
from training.models.build import load_checkpoint


def test_fp32_and_int8_load_in_the_edge_with_cards(tiny_export, tiny_checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    model, cfg = load_checkpoint(tiny_checkpoint)
    for path, precision in ((tiny_export.fp32, "fp32"), (tiny_export.int8, "int8")):
        loaded = load_model(path, SessionConfig())
        card = loaded.card
        assert card.precision == precision and card.name == "tiny"
        assert card.weights_sha256 == weights_sha256(model)
        assert card.recipe_sha256 == cfg.sha256()
        assert card.halo_px == tiny_export.halo_px > 0 and card.halo_px % card.stride_px == 0
        assert "fp32_vs_int8_pearson_r" in card.metrics


def test_onnx_fp32_matches_torch_on_a_non_square_frame(tiny_export, tiny_checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    """Dynamic H/W: a 96x160 frame (not the export size). Tolerance 1e-4: fp32 reassociation."""
    model, _ = load_checkpoint(tiny_checkpoint)
    x = np.random.default_rng(0).standard_normal((96, 160)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None, None])[0][0, 0].numpy()
    session = load_model(tiny_export.fp32, SessionConfig()).session
    out = session.run(["dapi"], {"qpi": x[None, None]})[0][0, 0]
    np.testing.assert_allclose(out, ref, atol=1e-4)
    assert tiny_export.parity.torch_vs_fp32_max_abs < 1e-4


def test_int8_graph_is_quantized(tiny_export) -> None:  # type: ignore[no-untyped-def]
    import onnx

    ops = {n.op_type for n in onnx.load(str(tiny_export.int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert tiny_export.int8.stat().st_size < tiny_export.fp32.stat().st_size
    Stainer(load_model(tiny_export.int8, SessionConfig())).stain(np.ones((40, 50), np.float32))


def test_parity_gate_refuses_a_bad_int8(tiny_export) -> None:  # type: ignore[no-untyped-def]
    bad = replace(tiny_export.parity, fp32_vs_int8_pearson_r=0.98)
    assert _gate_problems(bad, ExportOptions()) == ["Pearson r vs fp32 0.9800 < 0.9950"]
    # a looser gate, chosen on the command line, keeps it
    assert _gate_problems(bad, ExportOptions(max_pearson_loss=0.03)) == []


def test_fp32_only_parity_prints_no_int8_figures() -> None:
    from export.parity import Parity
    from export.pipeline import summary_rows

    rows = dict(summary_rows(Parity(1e-6, None, None, 0.9, None)))
    assert rows["fp32 vs int8, Pearson r"] == "n/a (fp32 only)"
    assert rows["nucleus recall fp32"] == "0.900"


def test_bioimageio_package_is_valid_and_reproducible(tiny_export, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The package validates with bioimageio.spec (IO checks on), and its test output is
    what onnxruntime gives for its test input after the RDF's scale_range preprocessing."""
    import zipfile

    import yaml
    from bioimageio.spec import load_description

    from export.bioimageio import write_package

    package = write_package(tiny_export.fp32, tmp_path / "tiny.bioimageio.zip", side_px=64)
    # bioimageio.spec 0.5.14 leaves the package's zip file open after loading it:
    # validate inside a scope that ignores that ResourceWarning and collects the handle.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        descr = load_description(package, perform_io_checks=True)
        status = descr.validation_summary.status
        del descr
        gc.collect()
    assert status in ("valid-format", "passed")
    with zipfile.ZipFile(package) as z:
        rdf = yaml.safe_load(z.read("rdf.yaml"))
        z.extractall(tmp_path / "pkg")
    (pre,) = [p for p in rdf["inputs"][0]["preprocessing"] if p["id"] == "scale_range"]
    x = np.load(tmp_path / "pkg" / "test_input.npy")
    lo, hi = np.percentile(x, [pre["kwargs"]["min_percentile"], pre["kwargs"]["max_percentile"]])
    scaled = ((x - lo) / (hi - lo + 1e-6)).astype(np.float32)  # bioimage.io scale_range
    session = load_model(tmp_path / "pkg" / tiny_export.fp32.name, SessionConfig()).session
    out = session.run(["dapi"], {"qpi": scaled})[0]
    np.testing.assert_allclose(out, np.load(tmp_path / "pkg" / "test_output_dapi.npy"), atol=1e-4)


def test_multi_plane_export_records_planes_modality_and_fixed_normalisation(
    tiny_stack_export, tiny_stack_checkpoint: Path
) -> None:  # type: ignore[no-untyped-def]
    """A 3-plane phase-contrast model: its card says so, and the edge feeds it (Z, Y, X)
    stacks normalised by the training columns' values (the checkpoint's)."""
    model, _ = load_checkpoint(tiny_stack_checkpoint)
    saved = torch.load(tiny_stack_checkpoint, weights_only=True)["normalization"]
    for path in (tiny_stack_export.fp32, tiny_stack_export.int8):
        card = load_model(path, SessionConfig()).card
        assert card.input_planes == 3 and card.modality == "phase-contrast"
        assert card.input.description == "phase contrast"
        assert card.normalization.method == "fixed"
        assert card.normalization.low_value == saved["input"]["low_value"]
        assert card.target_normalization is not None
        assert card.target_normalization.high_value == saved["target"]["high_value"]
    stack = np.random.default_rng(0).integers(900, 3000, (3, 70, 90)).astype(np.uint16)
    out = Stainer(load_model(tiny_stack_export.fp32, SessionConfig())).stain(stack)
    x = card.normalization.to_normalization()
    from edge.infer.preprocess import normalize, pad_to_multiple

    padded, _ = pad_to_multiple(normalize(stack, x), 32)
    with torch.no_grad():
        ref = model(torch.from_numpy(padded)[None])[0][0, 0, :70, :90].numpy()
    np.testing.assert_allclose(out["dapi"], ref, atol=1e-4)  # fp32 reassociation
    with pytest.raises(ValueError, match="stack of 3 planes"):
        Stainer(load_model(tiny_stack_export.fp32, SessionConfig())).stain(stack[0])


def test_bioimageio_package_of_a_multi_plane_fixed_normalisation_model(
    tiny_stack_export, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Planes become named channels; the fixed normalisation becomes scale_linear."""
    import zipfile

    import yaml

    from export.bioimageio import write_package

    package = write_package(tiny_stack_export.fp32, tmp_path / "s.bioimageio.zip", side_px=64)
    with zipfile.ZipFile(package) as z:
        rdf = yaml.safe_load(z.read("rdf.yaml"))
    (inp,) = rdf["inputs"]
    assert inp["axes"][1]["channel_names"] == ["qpi_z0", "qpi_z1", "qpi_z2"]
    steps = [p["id"] for p in inp["preprocessing"]]  # bioimageio.spec adds ensure_dtype steps
    assert "scale_linear" in steps and "scale_range" not in steps
    assert "phase-contrast" in rdf["tags"]


def test_a_refused_int8_is_retried_with_the_decoder_kept_fp32(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """The fallback is gated the same way: refused both times, the error names both and no
    int8 file is left; with the gate between the two, the decoder-fp32 file ships."""
    import re

    from export.pipeline import run_export
    from export.quantize import DECODER

    opts = ExportOptions(calibration_frames=2, parity_frames=2, side_px=64, max_recall_loss=1.0)
    strict = replace(opts, max_pearson_loss=0.0, int8_fallbacks=(DECODER,))
    with pytest.raises(ParityGateError) as refused:
        run_export(tiny_checkpoint, tmp_path / "a", strict)
    message = str(refused.value)
    assert "all int8: Pearson r" in message and "dapi_vae.decoder kept fp32: Pearson r" in message
    assert (
        not (tmp_path / "a" / "tiny.int8.onnx").exists() and (tmp_path / "a" / "tiny.onnx").exists()
    )
    r_all, r_decoder = (float(v) for v in re.findall(r"Pearson r vs fp32 ([0-9.]+)", message))
    assert r_decoder > r_all  # the decoder is where this model's int8 error is
    between = replace(strict, max_pearson_loss=1.0 - (r_all + r_decoder) / 2)
    result = run_export(tiny_checkpoint, tmp_path / "b", between)
    assert result.int8_kept_fp32 == DECODER and result.int8 is not None and result.int8.exists()
    assert result.parity.fp32_vs_int8_pearson_r == pytest.approx(r_decoder, abs=1e-4)

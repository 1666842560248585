"""Speed rewrites of exported graphs (export.rewrites): real exports, real onnxruntime."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from edge.infer.model import SessionConfig, load_model, shipped_models
from export import rewrites
from export.onnx_graph import export_fp32
from export.rewrites import UNSHUFFLE_PERM, apply, check_same, probe_frames, relayout_file
from training.models.build import load_checkpoint


def _ops(path: Path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def _unshuffles(path: Path) -> int:
    return sum(
        1
        for n in onnx.load(str(path)).graph.node
        if n.op_type == "Transpose" and tuple(n.attribute[0].ints) == UNSHUFFLE_PERM
    )


@pytest.fixture(scope="module")
def raw_fp32(tiny_checkpoint: Path, tiny_export, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The tiny model exported without the rewrites (with its export's card)."""
    from export.onnx_graph import stamp_card

    model, _ = load_checkpoint(tiny_checkpoint)
    path = tmp_path_factory.mktemp("raw") / "raw.onnx"
    export_fp32(model, path, model.stride_px)
    stamp_card(path, load_model(tiny_export.fp32, SessionConfig()).card)
    return path


def test_aglu_export_applies_the_rewrites(tiny_export) -> None:  # type: ignore[no-untyped-def]
    fp32, int8 = _ops(tiny_export.fp32), _ops(tiny_export.int8)
    assert _unshuffles(tiny_export.fp32) == 0 and "Where" not in fp32
    first = next(n for n in onnx.load(str(tiny_export.fp32)).graph.node if n.op_type == "Conv")
    assert next(a.ints for a in first.attribute if a.name == "strides") == [2, 2]
    # int8: only the float head's PixelShuffle stays a DepthToSpace
    assert int8.count("DepthToSpace") == 1 and "Where" not in int8
    assert load_model(tiny_export.int8, SessionConfig()).card.name == "tiny"


def test_relayout_of_a_plain_export_is_exact_on_non_square_frames(
    raw_fp32: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fast.onnx"
    report = {r.name: r for r in relayout_file(raw_fp32, out)}
    assert report["fold_unshuffle"].kept and report["plain_softplus"].kept
    assert not report["blocked_shuffle"].places  # fp32: onnxruntime's own layout is faster
    assert _unshuffles(raw_fp32) == 1 and _unshuffles(out) == 0
    frames = [np.random.default_rng(1).random((1, 1, 96, 160), dtype=np.float32)]
    errors = check_same(raw_fp32.read_bytes(), out.read_bytes(), frames)
    assert set(errors) == {"dapi", "sigma"} and max(errors.values()) < 1e-5


def test_a_rewrite_that_moves_the_outputs_is_dropped(
    raw_fp32: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rewrites, "TOLERANCE", -1.0)  # any change at all is too much
    model = onnx.load(str(raw_fp32))
    before = model.SerializeToString()
    report = rewrites.relayout(model, probe_frames(1))
    assert [r.places > 0 for r in report] == [True, False, True]
    assert not any(r.kept for r in report)
    assert model.SerializeToString() == before


def test_blocked_shuffle_keeps_int8_outputs_bit_for_bit(raw_fp32: Path, tmp_path: Path) -> None:
    from export.quantize import quantize_int8

    int8 = tmp_path / "raw.int8.onnx"
    rng = np.random.default_rng(2)
    quantize_int8(raw_fp32, int8, [rng.random((1, 64, 64), dtype=np.float32) for _ in range(2)])
    assert "DepthToSpace" in _ops(int8)
    report = {r.name: r for r in relayout_file(int8, tmp_path / "fast.int8.onnx")}
    shuffle = report["blocked_shuffle"]
    assert shuffle.places == 4 and shuffle.kept and shuffle.max_error == 0.0
    assert _ops(tmp_path / "fast.int8.onnx").count("DepthToSpace") == 1  # the float head
    again = {r.name: r.places for r in relayout_file(tmp_path / "fast.int8.onnx", int8)}
    assert again["blocked_shuffle"] == 0 and again["plain_softplus"] == 0


def test_shipped_models_carry_the_exact_rewrites() -> None:
    paths = [p for files in shipped_models().values() for p in files.values()]
    assert len(paths) >= 4
    for path in paths:
        left = apply(onnx.load(str(path)), ("blocked_shuffle", "plain_softplus"))
        assert left == {"blocked_shuffle": 0, "plain_softplus": 0}, path.name


def _relayout_cli(model: Path, out: Path) -> subprocess.CompletedProcess[str]:
    code = "from export.cli import relayout; relayout()"
    return subprocess.run(
        [sys.executable, "-c", code, str(model), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_relayout_cli_rewrites_and_reports(raw_fp32: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.onnx"
    r = _relayout_cli(raw_fp32, out)
    assert r.returncode == 0, r.stderr
    assert "fold_unshuffle" in r.stdout and "kept" in r.stdout and out.is_file()


@pytest.mark.parametrize("content", [None, b"not onnx"])
def test_relayout_cli_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes | None
) -> None:
    bad = tmp_path / "bad.onnx"
    if content is not None:
        bad.write_bytes(content)
    r = _relayout_cli(bad, tmp_path / "o.onnx")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith(f"error: model {bad}")
    assert not (tmp_path / "o.onnx").exists()


def test_relayout_refuses_a_card_less_file_and_a_bad_out_in_one_line(
    tiny_checkpoint: Path, raw_fp32: Path, tmp_path: Path
) -> None:
    """Issue 25: a card-less ONNX file was rewritten with exit 0; --out at a folder or in
    a missing folder gave a traceback and left a 2.8 MB .tmp behind."""
    model, _ = load_checkpoint(tiny_checkpoint)
    bare = tmp_path / "bare.onnx"
    export_fp32(model, bare, model.stride_px)
    cases = [
        (bare, tmp_path / "o.onnx", "has no AGLU model card"),
        (raw_fp32, tmp_path, "is a folder"),
        (raw_fp32, tmp_path / "missing" / "o.onnx", "does not exist"),
    ]
    for src, out, fragment in cases:
        r = _relayout_cli(src, out)
        assert r.returncode == 2, r.stderr
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("error:") and fragment in last and "Traceback" not in r.stderr
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "o.onnx").exists()

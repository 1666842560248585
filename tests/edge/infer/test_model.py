from pathlib import Path

import pytest

from edge.errors import ConfigError, ModelError
from edge.infer.card import parse_card
from edge.infer.model import LoadedModel, SessionConfig, default_model_path, load_model


def test_shipped_models_load_with_valid_cards(shipped_int8: LoadedModel) -> None:
    fp32 = load_model(default_model_path("fp32"), SessionConfig())
    assert shipped_int8.card.precision == "int8" and fp32.card.precision == "fp32"
    assert shipped_int8.card.weights_sha256 == fp32.card.weights_sha256
    assert shipped_int8.input_name == "qpi"
    assert shipped_int8.output_names == ("dapi", "sigma")
    assert shipped_int8.card.stride_px == 32
    assert len(shipped_int8.sha256) == 64 and shipped_int8.sha256 != fp32.sha256


def test_truncated_model_is_refused_in_one_line(corrupt_model: Path) -> None:
    with pytest.raises(ModelError, match="not a loadable ONNX model") as info:
        load_model(corrupt_model, SessionConfig())
    assert "\n" not in str(info.value) and str(corrupt_model) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"not an onnx file at all"])
def test_garbage_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"empty|not a loadable"):
        load_model(path, SessionConfig())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "nope.onnx", SessionConfig())


def test_model_without_card_is_refused(tmp_path: Path) -> None:
    """A valid ONNX graph with no AGLU card: built with onnx.helper (export extra)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["qpi"], ["dapi"])],
        "g",
        [helper.make_tensor_value_info("qpi", TensorProto.FLOAT, [1, 1, None, None])],
        [helper.make_tensor_value_info("dapi", TensorProto.FLOAT, [1, 1, None, None])],
    )
    path = tmp_path / "nocard.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10  # what this onnxruntime reads
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="no model card"):
        load_model(path, SessionConfig())


def test_card_with_bad_field_names_it() -> None:
    with pytest.raises(ValueError, match="'format'"):
        parse_card('{"format": "other"}')


def test_unavailable_provider_is_a_config_error_not_a_fallback() -> None:
    with pytest.raises(ConfigError, match="TensorrtExecutionProvider"):
        load_model(
            default_model_path("int8"), SessionConfig(providers=("TensorrtExecutionProvider",))
        )


def test_shipped_models_by_name_and_one_line_errors() -> None:
    from edge.errors import ConfigError
    from edge.infer.model import shipped_model_path, shipped_models

    assert {"aglu-brightfield", "aglu-phase", "aglu-qpi"} <= shipped_models().keys()
    assert shipped_model_path("phase", "int8") == shipped_model_path("aglu-phase", "int8")
    with pytest.raises(ConfigError, match="aglu-brightfield ships only int8, not fp32"):
        shipped_model_path("brightfield", "fp32")
    with pytest.raises(ConfigError, match="no shipped model 'dapi'; shipped: brightfield"):
        shipped_model_path("dapi", "int8")

"""Edge fixtures: the shipped model (real onnxruntime sessions) and small configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.model import LoadedModel, SessionConfig, default_model_path, load_model


@pytest.fixture(scope="session")
def shipped_int8() -> LoadedModel:
    return load_model(default_model_path("int8"), SessionConfig())


@pytest.fixture
def corrupt_model(tmp_path: Path) -> Path:
    data = default_model_path("fp32").read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 3])
    return path

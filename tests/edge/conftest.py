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


@pytest.fixture(scope="session")
def mm_core(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real Micro-Manager core (pymmcore + mm-test-adapters DemoCamera) via pycromanager's
    headless Python backend; torn down explicitly (else the interpreter may crash at exit)."""
    pytest.importorskip("pycromanager", reason="needs the mm extra: pip install 'aglu[mm]'")
    mm_test_adapters = pytest.importorskip("mm_test_adapters", reason="needs the mm extra")
    from pycromanager import Core, start_headless, stop_headless

    start_headless(mm_test_adapters.device_adapter_path(), "MMConfig_demo.cfg", python_backend=True)
    core = Core()
    core.set_property("Camera", "Mode", "Color Test Pattern")  # deterministic pixels
    core.set_roi(0, 0, 128, 96)
    core.set_exposure(5.0)
    yield core
    if core.is_sequence_running():
        core.stop_sequence_acquisition()
    stop_headless()

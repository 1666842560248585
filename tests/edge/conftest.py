"""Edge fixtures: the shipped model (real onnxruntime sessions) and small configs."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.infer.model import LoadedModel, SessionConfig, default_model_path, load_model


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


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """An X display for napari/vispy (OpenGL): $DISPLAY, else a private Xvfb.

    Qt's ``offscreen`` platform has no OpenGL context, so vispy cannot render
    there; Xvfb is headless X with Mesa's software OpenGL."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("no X display and no Xvfb (Debian: apt-get install xvfb libxcb-cursor0)")
    display = f":{random.randint(100, 60000)}"
    proc = subprocess.Popen(
        [xvfb, display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.skip(f"Xvfb {display} did not start")
        time.sleep(0.05)
    os.environ["DISPLAY"], os.environ["QT_QPA_PLATFORM"] = display, "xcb"
    yield display
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def nan_model(tmp_path: Path) -> Path:
    """A valid file with a valid card whose outputs are all NaN (one weight is NaN)."""
    from tests.edge.helpers import nan_weights_model

    return nan_weights_model(tmp_path / "nan.onnx")


@pytest.fixture
def fixed_64px_model(tmp_path: Path) -> Path:
    """A model that takes 64x64 frames only: it warms up at 64x64 and then fails (in
    onnxruntime) on every valid frame of another size: a model failing on good input."""
    from tests.edge.helpers import fixed_size_model

    return fixed_size_model(tmp_path / "fixed64.onnx", 64)

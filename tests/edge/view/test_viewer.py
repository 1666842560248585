"""The live napari viewer, rendered on a headless X server, against published frames."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.daemon import Daemon
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage
from edge.view.viewer import LiveViewer, layer_updates, newest_frames
from tests.edge.helpers import local_config

pytestmark = [
    # napari 0.9 (and npe2) still build pydantic models with v1-style options at import.
    # Only this module imports napari, so the filter hides nothing of ours elsewhere.
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:napari.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:vispy.*"),
]


def test_layer_updates_are_pure_and_named() -> None:
    dapi = np.ones((4, 6), np.float32)
    msg = FrameMessage(
        {
            "frame_index": 7,
            "axes": {"time": 2},
            "t_ns": {"acquired": 1_000_000},
            "model": {"name": "aglu-default", "precision": "int8"},
            "pixel_size_um": 0.5,
        },
        {"qpi": dapi, "dapi": dapi, "extra": dapi},
    )
    up = layer_updates(msg, now_ns=43_000_000)
    assert set(up.arrays) == {"qpi", "dapi"} and up.scale_um == (0.5, 0.5)
    assert up.text == "frame 7  time=2  latency 42 ms  aglu-default int8"
    msg.header["quality"] = {"sigma_mean": 0.1, "in_distribution": False, "unusual": "hist_0"}
    assert layer_updates(msg, now_ns=43_000_000).text.endswith(
        "int8  sigma 0.100 OUT OF DISTRIBUTION (hist_0)"
    )


@pytest.fixture
def napari_viewer(x_display: str) -> Iterator[Any]:
    napari = pytest.importorskip("napari", reason="needs the view extra: pip install 'aglu[view]'")
    viewer = napari.Viewer(show=True)
    yield viewer
    viewer.close()


def _render(viewer: Any) -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()
        time.sleep(0.02)


def test_live_frames_render_as_published(napari_viewer: Any) -> None:
    """Frames from a real daemon are shown; the rendered DAPI layer equals the published
    prediction up to the display's 8-bit colormap (Pearson r > 0.999 over all pixels)."""
    daemon = Daemon.for_config(local_config(source={"height_px": 64, "width_px": 96, "fps": 20}))
    daemon.start()
    live = LiveViewer(napari_viewer)
    try:
        with Subscriber(daemon.endpoint, topics=(b"frame",)) as sub:
            frames = (m for m in newest_frames(sub) if m is not None)
            for _ in range(3):
                msg = next(frames)
                live.show(layer_updates(msg))
    finally:
        daemon.stop()
    assert [layer.name for layer in napari_viewer.layers] == ["qpi", "dapi", "sigma"]
    assert live.overlay.text.startswith(f"frame {msg.header['frame_index']} ")
    np.testing.assert_array_equal(napari_viewer.layers["dapi"].data, msg.arrays["dapi"])
    napari_viewer.layers["qpi"].visible = False
    live.overlay.visible = False
    napari_viewer.layers["dapi"].contrast_limits = (
        float(msg.arrays["dapi"].min()),
        float(msg.arrays["dapi"].max()),
    )
    _render(napari_viewer)
    shot = napari_viewer.export_figure(flash=False)
    assert shot.shape[:2] == (64, 96)
    r = np.corrcoef(shot[..., 2].astype(float).ravel(), msg.arrays["dapi"].ravel())[0, 1]
    assert r > 0.999, r


def test_view_cli_shows_frames_then_saves_a_screenshot(x_display: str, tmp_path: Path) -> None:
    """`aglu-edge view --frames 3 --screenshot` against a real daemon, in its own process."""
    pytest.importorskip("napari", reason="needs the view extra: pip install 'aglu[view]'")
    daemon = Daemon.for_config(local_config(source={"height_px": 64, "width_px": 96, "fps": 20}))
    daemon.start()
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "edge.cli",
                "view",
                "--endpoint",
                daemon.endpoint,
                "--frames",
                "3",
                "--screenshot",
                str(tmp_path / "shot.png"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        daemon.stop()
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"showed 3 frames from {daemon.endpoint}" in r.stderr
    import imageio.v3 as iio

    shot = iio.imread(tmp_path / "shot.png")
    assert shot.ndim == 3 and shot[..., :3].max() > 0  # something was drawn

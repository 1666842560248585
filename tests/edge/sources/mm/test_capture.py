"""Capturing paired fields through a real core (pymmcore-plus UniMMCore): a Python camera
serves registered bright-field / nuclear-stain pairs of aiSEGcell by channel preset, a
Python XY stage picks the pair; the captured folder is a dataset a recipe reads as is."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.sources.mm.capture import ChannelPreset, capture_pairs

unicore = pytest.importorskip(
    "pymmcore_plus.experimental.unicore", reason="needs the mm extra: pip install 'aglu[mm]'"
)
pytest.importorskip("useq", reason="needs the mm extra")
SIDE = 256


def _pairs(shared_data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Three registered (bright-field, nuclear) pairs, cropped to 256 px."""
    from PIL import Image

    root = shared_data / "aisegcell-bf"
    names = sorted(p.name for p in (root / "bf").iterdir())[:3]
    out = []
    for n in names:
        bf = np.asarray(Image.open(root / "bf" / n))[:SIDE, :SIDE]
        nuc = np.asarray(Image.open(root / "nuc" / n))[:SIDE, :SIDE]
        out.append((np.ascontiguousarray(bf), np.ascontiguousarray(nuc)))
    return out


class PairStage(unicore.XYStageDevice):  # type: ignore[misc, name-defined]
    def __init__(self) -> None:
        super().__init__()
        self.xy = (0.0, 0.0)

    def set_position_um(self, x: float, y: float) -> None:
        self.xy = (x, y)

    def get_position_um(self) -> tuple[float, float]:
        return self.xy

    def set_origin_x(self) -> None:
        pass

    def set_origin_y(self) -> None:
        pass

    def home(self) -> None:
        pass

    def stop(self) -> None:
        pass


class PairCamera(unicore.SimpleCameraDevice):  # type: ignore[misc, name-defined]
    """Position k (stage x = 100 k um): pair k; its Mode property picks the channel."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], stage: PairStage) -> None:
        super().__init__()
        self.pairs, self.stage, self._mode = pairs, stage, "label-free"

    @unicore.pymm_property(allowed_values=["label-free", "stain"])
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = value

    def sensor_shape(self) -> tuple[int, int]:
        return (SIDE, SIDE)

    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    def snap(self, buffer: np.ndarray) -> Mapping[str, Any]:
        k = round(self.stage.xy[0] / 100)
        buffer[:] = self.pairs[k][0 if self._mode == "label-free" else 1]
        return {}

    def get_exposure(self) -> float:
        return 10.0

    def set_exposure(self, exposure: float) -> None:
        pass


@pytest.fixture
def core(shared_data: Path) -> Iterator[tuple[Any, list[tuple[np.ndarray, np.ndarray]]]]:
    pairs = _pairs(shared_data)
    c = unicore.UniMMCore()
    stage = PairStage()
    c.loadPyDevice("XY", stage)
    c.initializeDevice("XY")
    c.setXYStageDevice("XY")
    c.loadPyDevice("Camera", PairCamera(pairs, stage))
    c.initializeDevice("Camera")
    c.setCameraDevice("Camera")
    c.setAutoShutter(False)
    c.defineConfig("Channel", "BF", "Camera", "mode", "label-free")
    c.defineConfig("Channel", "DAPI", "Camera", "mode", "stain")
    yield c, pairs
    c.unloadAllDevices()


def test_captured_pairs_are_a_dataset_a_recipe_reads(core: Any, tmp_path: Path) -> None:
    from training.config import load_train_config
    from training.data.fields import load_real_pairs

    c, pairs = core
    out = tmp_path / "newscope"
    res = capture_pairs(
        c,
        [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0)],
        ChannelPreset("Channel", "BF", 10.0),
        ChannelPreset("Channel", "DAPI", 50.0),
        out,
        "bright-field",
        pixel_size_um=0.65,
    )
    assert res.positions == 3 and res.files[0].name == "pos000.ome.tif"
    cfg = load_train_config(res.recipe)
    assert cfg.data.modality == "bright-field" and cfg.data.source == "tiff"
    got = load_real_pairs(cfg.data)
    assert len(got) == 3
    for pair, (bf, nuc) in zip(got, pairs, strict=True):
        np.testing.assert_array_equal(pair.qpi[0], bf)  # raw values, the camera's dtype
        np.testing.assert_array_equal(pair.dapi, nuc)
    with pytest.raises(ConfigError, match="exists"):
        capture_pairs(
            c, [(0.0, 0.0)], ChannelPreset("Channel", "BF"), ChannelPreset("Channel", "DAPI"),
            out, "bright-field",
        )  # fmt: skip

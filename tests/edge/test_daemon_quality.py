"""Per-frame quality through the daemon: header blocks, status counts, one log per change."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edge.io.readers import open_reader
from edge.sources.replay import DEMO_SAMPLE
from tests.edge.helpers import local_config, stream_through_daemon


def _sample() -> list[np.ndarray]:
    reader = open_reader(DEMO_SAMPLE, "bright-field")
    try:
        return [reader.read(c) for c in reader.planes[:2]]
    finally:
        reader.close()


def test_quality_blocks_counts_and_one_warning_per_change(caplog: pytest.LogCaptureFixture) -> None:
    real = _sample()
    blank = np.full_like(real[0], 120)
    saturated = np.where(real[0] > np.percentile(real[0], 40), 255, real[0]).astype(np.uint8)
    images = [real[0], blank, saturated, real[1]]
    cfg = local_config(
        source={"height_px": 512, "width_px": 512},
        model={"name": "brightfield"},
        publish={"status_interval_s": 0.05},
        queue={"capacity": 8},
    )
    caplog.set_level(logging.WARNING, logger="edge.stats")
    frames, status = stream_through_daemon(cfg, images, period_s=0.3)
    quality = [f.header["quality"] for f in frames]
    assert [q["in_distribution"] for q in quality] == [True, False, False, True]
    assert quality[1]["unusual"] in ("at_min", "at_max") and quality[1]["input_distance"] > 1
    assert all(0 < q["sigma_mean"] < 1 and 0 <= q["sigma_high_fraction"] <= 1 for q in quality)
    assert status["quality"] == {"measured": 4, "out_of_distribution": 2}
    out = [r for r in caplog.records if "out of the model's training distribution" in r.message]
    back = [r for r in caplog.records if "back in the model's training distribution" in r.message]
    assert len(out) == 1 and "frame 1" in out[0].message  # frames 1 and 2: one warning
    assert len(back) == 1 and "frame 3" in back[0].message


def test_quality_off_publishes_null_and_counts_nothing() -> None:
    cfg = local_config(
        source={"height_px": 512, "width_px": 512},
        model={"name": "brightfield", "quality": False},
        publish={"status_interval_s": 0.05},
    )
    frames, status = stream_through_daemon(cfg, _sample()[:1])
    assert frames[0].header["quality"] is None
    assert status["quality"] == {"measured": 0, "out_of_distribution": 0}

"""Scoring replayed frames against the recording's true stain, and the quality label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from edge.errors import ConfigError
from edge.net.wire import FrameMessage
from edge.stats import pearson_r
from edge.view.printer import frame_line, quality_label
from edge.view.truth import Truth


def _recording(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    label_free = rng.integers(0, 255, (3, 32, 48), dtype=np.uint8)
    truth = rng.integers(0, 255, (3, 32, 48), dtype=np.uint8)
    tifffile.imwrite(
        path,
        np.stack([label_free, truth], axis=1),
        ome=True,
        metadata={"axes": "TCYX", "Channel": {"Name": ["bf", "nuc"]}},
    )
    return label_free, truth


def test_each_frame_is_scored_against_its_own_true_plane(tmp_path: Path) -> None:
    path = tmp_path / "rec.ome.tif"
    _, truth = _recording(path)
    ref = Truth(path, "nuc")
    try:
        exact = FrameMessage({"axes": {"T": 2, "C": 0}}, {"dapi": truth[2].astype(np.float32)})
        assert ref.score(exact) == (pytest.approx(1.0), "r vs truth 1.000")
        other = FrameMessage({"axes": {"T": 1, "C": 0}}, {"dapi": truth[2].astype(np.float32)})
        r, text = ref.score(other)
        assert r is not None and abs(r) < 0.2 and text.startswith("r vs truth ")
        missing = FrameMessage({"axes": {"T": 9, "C": 0}}, {"dapi": truth[0]})
        assert ref.score(missing) == (None, "r vs truth: no plane at these coordinates")
        small = FrameMessage({"axes": {"T": 0, "C": 0}}, {"dapi": truth[0][:8]})
        assert ref.score(small)[0] is None and "shapes differ" in ref.score(small)[1]
    finally:
        ref.close()


def test_a_truth_channel_that_is_not_there_is_one_named_error(tmp_path: Path) -> None:
    path = tmp_path / "rec.ome.tif"
    _recording(path)
    with pytest.raises(ConfigError, match="channel 'dapi' not found"):
        Truth(path, "dapi")


def test_pearson_r_of_a_constant_image_is_nan() -> None:
    """One implementation for training and the subscriber (issue 26): NaN, never None."""
    import math

    from training.evaluate.metrics import pearson_r as training_pearson_r

    assert training_pearson_r is pearson_r
    assert math.isnan(pearson_r(np.ones((4, 4)), np.arange(16.0).reshape(4, 4)))


def test_quality_label_and_frame_line() -> None:
    ood = {"sigma_mean": 0.05, "in_distribution": False, "unusual": "at_max"}
    assert quality_label({"quality": ood}) == "sigma 0.050 OUT OF DISTRIBUTION (at_max)"
    assert quality_label({"quality": {**ood, "in_distribution": True}}).endswith("in distribution")
    assert quality_label({"quality": None}) == quality_label({}) == ""
    assert quality_label({"quality": {"in_distribution": "yes"}}) == ""  # malformed: no claim
    msg = FrameMessage({"frame_index": 3, "quality": ood}, {"dapi": np.zeros((2, 2), np.float32)})
    line = frame_line(msg, 12.0, "r vs truth 0.400")
    assert line.endswith("OUT OF DISTRIBUTION (at_max)  r vs truth 0.400")

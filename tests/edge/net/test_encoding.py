"""Output encodings on the wire: float32 (default), float16, uint16 quantised per frame."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.errors import WireError
from edge.net.messages import encode_output
from edge.net.wire import FrameMessage, decode, encode_frame
from tests.edge.helpers import local_config, stream_through_daemon


def _parts(parts: list) -> list[bytes]:  # type: ignore[type-arg]
    return [bytes(p) if not isinstance(p, np.ndarray) else p.tobytes() for p in parts]


def test_uint16_round_trip_is_within_half_a_step_and_half_the_bytes() -> None:
    x = np.random.default_rng(0).normal(0.3, 0.2, (64, 96)).astype(np.float32)
    q, (scale, offset) = encode_output(x, "uint16")  # type: ignore[misc]
    assert q.dtype == np.uint16 and q.nbytes == x.nbytes // 2
    msg = decode(_parts(encode_frame({}, {"dapi": q}, {"dapi": (scale, offset)})))
    assert isinstance(msg, FrameMessage) and msg.arrays["dapi"].dtype == np.float32
    assert np.abs(msg.arrays["dapi"] - x).max() <= scale * 0.51 + 1e-6
    half, none = encode_output(x, "float16")
    assert half.dtype == np.float16 and none is None
    assert np.abs(half.astype(np.float32) - x).max() < 1e-3
    flat, _ = encode_output(np.full((4, 4), 2.5, np.float32), "uint16")
    assert not flat.any()  # a constant frame: all zero, offset 2.5


@pytest.mark.parametrize("bad", [None, "1", float("nan"), True])
def test_a_bad_scale_is_one_wire_error(bad: object) -> None:
    parts = _parts(encode_frame({}, {"dapi": np.zeros((2, 2), np.uint16)}, {"dapi": (1.0, 0.0)}))
    header = json.loads(parts[1])
    header["channels"][0]["scale"] = bad
    parts[1] = json.dumps(header).encode()
    with pytest.raises(WireError, match="bad scale/offset"):
        decode(parts)


def test_daemon_publishes_uint16_predictions_that_decode_to_the_float32_ones() -> None:
    image = np.random.default_rng(1).standard_normal((64, 64)).astype(np.float32)
    frames: dict[str, FrameMessage] = {}
    for encoding in ("float32", "uint16"):
        cfg = local_config(
            source={"height_px": 64, "width_px": 64},
            publish={"status_interval_s": 0.05, "encoding": encoding},
        )
        frames[encoding] = stream_through_daemon(cfg, [image])[0][0]
    ref, got = frames["float32"].arrays["dapi"], frames["uint16"].arrays["dapi"]
    step = (ref.max() - ref.min()) / 65535
    assert np.abs(got - ref).max() <= step + 1e-6
    channels = {c["name"]: c for c in frames["uint16"].header["channels"]}
    assert channels["dapi"]["dtype"] == "uint16" and "scale" in channels["sigma"]
    assert channels["qpi"]["dtype"] == "float32" and "scale" not in channels["qpi"]

import contextlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge.errors import WireError
from edge.net.wire import DTYPES, FrameMessage, StatusMessage, decode, encode_frame, encode_status


def _bytes(parts: list) -> list[bytes]:
    return [bytes(memoryview(p)) if not isinstance(p, bytes) else p for p in parts]


@given(
    arrays=st.dictionaries(
        st.text(min_size=1, max_size=8),
        hnp.arrays(
            st.sampled_from(sorted(DTYPES)), hnp.array_shapes(min_dims=0, max_dims=3, max_side=6)
        ),
        max_size=3,
    ),
    index=st.integers(0, 2**40),
)
def test_frame_round_trip(arrays: dict[str, np.ndarray], index: int) -> None:
    parts = encode_frame({"frame_index": index}, arrays)
    msg = decode(_bytes(parts))
    assert isinstance(msg, FrameMessage)
    assert msg.header["frame_index"] == index and msg.header["version"] == 1
    assert list(msg.arrays) == list(arrays)
    for name, arr in arrays.items():
        np.testing.assert_array_equal(msg.arrays[name], arr)
        assert msg.arrays[name].dtype == arr.dtype


def test_status_round_trip() -> None:
    msg = decode(_bytes(encode_status({"state": "ready"})))
    assert isinstance(msg, StatusMessage) and msg.header["state"] == "ready"


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=64), max_size=5))
def test_random_messages_raise_only_wire_error(parts: list[bytes]) -> None:
    """Any byte soup either decodes or raises WireError; never another exception."""
    with contextlib.suppress(WireError):
        decode(parts)


def _frame_parts(**override: object) -> list[bytes]:
    header = {
        "format": "aglu-frame",
        "version": 1,
        "channels": [{"name": "dapi", "dtype": "float32", "shape": [2, 2]}],
    }
    header.update(override)
    return [b"frame", json.dumps(header).encode(), np.zeros((2, 2), np.float32).tobytes()]


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ([b"frame"], "at least"),
        ([b"other", b"{}"], "unknown topic"),
        ([b"frame", b"\xff"], "not UTF-8 JSON"),
        ([b"frame", b"[1]"], "not a JSON object"),
        (_frame_parts(version=2), "version"),
        (_frame_parts(format="x"), "format"),
        (_frame_parts(channels=[{"name": "dapi", "dtype": "object", "shape": [2, 2]}]), "dtype"),
        (_frame_parts(channels=[{"name": "dapi", "dtype": "float32", "shape": [3, 3]}]), "bytes"),
        (_frame_parts()[:2], "channel"),
    ],
)
def test_malformed_messages_are_named(parts: list[bytes], fragment: str) -> None:
    with pytest.raises(WireError, match=fragment):
        decode(parts)


def test_encode_refuses_unsupported_arrays() -> None:
    with pytest.raises(WireError, match="dtype"):
        encode_frame({}, {"x": np.zeros(2, complex)})
    with pytest.raises(WireError, match="contiguous"):
        encode_frame({}, {"x": np.zeros((4, 4), np.float32)[:, ::2]})

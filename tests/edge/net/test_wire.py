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


def _empty_buffer(shape: list[int]) -> list[bytes]:
    """A frame whose header claims ``shape`` and whose buffer is empty."""
    return [*_frame_parts(channels=[{"name": "q", "dtype": "uint8", "shape": shape}])[:2], b""]


_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_EDGE_INTS = st.sampled_from([0, -1, 1, 2**31, 2**32, 2**63, 2**64, 2**70, -(2**70)])
_CHANNELS = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.text(max_size=4) | _VALUES,
            "dtype": st.sampled_from(sorted(DTYPES)) | _VALUES,
            "shape": st.lists(_EDGE_INTS | st.integers(0, 4) | _VALUES, max_size=4) | _VALUES,
        }
    ),
    max_size=3,
)


@settings(max_examples=300)
@given(
    channels=_CHANNELS | _VALUES,
    buffers=st.lists(st.binary(max_size=64) | st.just(b""), max_size=3),
    nesting=st.integers(0, 6000),
)
def test_hostile_frame_headers_raise_only_wire_error(
    channels: object, buffers: list[bytes], nesting: int
) -> None:
    """Huge and negative sizes, wrong types, deep nesting: WireError or a frame, nothing else."""
    header = {"format": "aglu-frame", "version": 1, "channels": channels}
    raw = json.dumps(header).encode()
    if nesting:
        raw = b"[" * nesting + raw
    with contextlib.suppress(WireError):
        decode([b"frame", raw, *buffers])


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ([b"frame", b"[" * 5000], "nested too deeply"),  # issue 14 bug 2: RecursionError
        (
            _empty_buffer([2**32, 2**32]),
            "shape",
        ),  # issue 14 bug 2: int64 product overflowed to 0 bytes
        (
            _empty_buffer([2**70]),
            "shape",
        ),  # issue 14 bug 2: OverflowError
        (_frame_parts(channels=[{"name": "q", "dtype": ["x"], "shape": [1]}]), "dtype"),
        ([b"frame"], "at least"),
        ([b"other", b"{}"], "unknown topic"),
        ([b"frame", b"\xff"], "not UTF-8 JSON"),
        ([b"frame", b"[1]"], "not a JSON object"),
        (_frame_parts(version=2), "version"),
        (_frame_parts(format="x"), "format"),
        (_frame_parts(channels=[{"name": "dapi", "dtype": "object", "shape": [2, 2]}]), "dtype"),
        (_frame_parts(channels=[{"name": "dapi", "dtype": "float32", "shape": [3, 3]}]), "bytes"),
        (_frame_parts()[:2], "channel"),
        (  # issue 25: the second buffer silently won
            [
                *_frame_parts(channels=[{"name": "dapi", "dtype": "float32", "shape": [2, 2]}] * 2),
                np.zeros((2, 2), np.float32).tobytes(),
            ],
            "appears twice",
        ),
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

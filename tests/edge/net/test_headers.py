"""The typed headers (edge.net.headers) match what is sent and what docs/protocol.md says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edge.net.headers import ALL, FrameHeader, StatusHeader
from tests.edge.helpers import local_config, stream_through_daemon

PROTOCOL = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


def test_the_protocol_page_documents_every_header_field() -> None:
    documented = set(re.findall(r"`([a-z_0-9]+)`", PROTOCOL.read_text()))
    for typed in ALL:
        missing = set(typed.__annotations__) - documented
        assert not missing, f"{typed.__name__}: {sorted(missing)} not in docs/protocol.md"


def _keys(typed: type) -> tuple[set[str], set[str]]:
    required = set(getattr(typed, "__required_keys__", set()))
    return required, required | set(getattr(typed, "__optional_keys__", set()))


def test_a_published_frame_and_status_carry_the_typed_fields() -> None:
    frames, status = stream_through_daemon(
        local_config(source={"height_px": 64, "width_px": 64}), [np.ones((64, 64), np.float32)]
    )
    required, allowed = _keys(FrameHeader)
    assert required <= frames[0].header.keys() <= allowed
    required, allowed = _keys(StatusHeader)
    assert required - {"format", "version"} <= status.keys() <= allowed

"""Reloading the model while frames flow: a good model swaps in, a bad one changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.daemon import Daemon
from edge.errors import ModelError
from edge.infer.model import default_model_path
from edge.lifecycle import State
from edge.net.client import Subscriber
from edge.net.wire import FrameMessage
from tests.edge.helpers import NotifyRecorder, local_config

SOURCE = {"height_px": 64, "width_px": 64, "fps": 40}


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    d = Daemon.for_config(local_config(source=SOURCE))
    d.start()
    yield d
    d.stop()


def _next_frame_model(d: Daemon) -> str:
    """The precision named in the next frame received after now."""
    with Subscriber(d.endpoint, topics=(b"frame",)) as sub:
        t0 = time.time_ns()
        while True:
            msg = sub.recv(timeout_s=10)
            assert isinstance(msg, FrameMessage)
            if msg.header["t_ns"]["received"] > t0:
                return str(msg.header["model"]["precision"])


def test_good_model_swaps_in_without_stopping(daemon: Daemon) -> None:
    assert _next_frame_model(daemon) == "int8"
    before = daemon.counters.snapshot().published
    assert daemon.reload(local_config(source=SOURCE, model={"precision": "fp32"}))
    assert _next_frame_model(daemon) == "fp32"
    assert daemon.reloads == {"ok": 1, "failed": 0} and daemon.state is State.READY
    assert daemon.counters.snapshot().published > before


def test_bad_model_keeps_the_old_one_serving(daemon: Daemon, corrupt_model: Path) -> None:
    sha = daemon.model.sha256
    assert not daemon.reload(local_config(source=SOURCE, model={"path": str(corrupt_model)}))
    assert daemon.model.sha256 == sha and daemon.reloads == {"ok": 0, "failed": 1}
    assert _next_frame_model(daemon) == "int8" and daemon.state is State.READY
    assert daemon.cfg.model.path is None  # the running config is unchanged too


def test_sections_that_need_a_restart_are_not_applied(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    new = local_config(
        source={**SOURCE, "fps": 1}, publish={"status_interval_s": 0.5}, model={"tile_px": 32}
    )
    assert daemon.reload(new)
    assert "[source] changed; it applies after a restart" in caplog.text
    assert daemon.cfg.source.fps == 40 and daemon.cfg.publish.status_interval_s == 0.5
    assert daemon.cfg.model.tile_px == 32 and daemon.model.path == str(default_model_path("int8"))


def test_a_model_of_another_plane_count_needs_a_restart(daemon: Daemon, tiny_stack_export) -> None:  # type: ignore[no-untyped-def]
    """A 3-plane model cannot take over a stream of single planes: refused, counted, and
    the running model keeps serving."""
    sha = daemon.model.sha256
    assert not daemon.reload(
        local_config(source=SOURCE, model={"path": str(tiny_stack_export.fp32)})
    )
    assert daemon.reloads == {"ok": 0, "failed": 1} and daemon.model.sha256 == sha
    assert _next_frame_model(daemon) == "int8" and daemon.state is State.READY


@pytest.fixture
def fixed_size_model(tmp_path: Path) -> Path:
    """The shipped model with its input fixed at 32x32: it loads, and fails warm-up at 64."""
    from tests.edge.helpers import fixed_size_model

    return fixed_size_model(tmp_path / "fixed32.onnx", 32)


def test_a_model_that_fails_warm_up_keeps_the_old_one_serving(
    daemon: Daemon, fixed_size_model: Path
) -> None:
    """Issue 14 bug 4: only AgluError was caught; this left the state `reloading`,
    `reloads.failed` at 0, and the process exited 1 with a traceback."""
    sha = daemon.model.sha256
    assert not daemon.reload(local_config(source=SOURCE, model={"path": str(fixed_size_model)}))
    assert daemon.reloads == {"ok": 0, "failed": 1} and daemon.state is State.READY
    assert daemon.model.sha256 == sha and _next_frame_model(daemon) == "int8"


def test_a_model_that_fails_warm_up_is_one_line_at_start(fixed_size_model: Path) -> None:
    d = Daemon.for_config(local_config(source=SOURCE, model={"path": str(fixed_size_model)}))
    with pytest.raises(ModelError, match="warm-up on 64x64 failed"):
        d.start()


def test_a_stop_during_a_reload_wins_and_no_ready_follows_stopping() -> None:
    """Issue 14: SIGTERM during a reload waited for the model load and two warm-ups, then
    the reload announced READY=1 after STOPPING=1."""
    import threading

    notes = NotifyRecorder()
    d = Daemon.for_config(
        local_config(source={**SOURCE, "height_px": 1024, "width_px": 1024}), notifier=notes
    )
    d.start()
    result: list[bool] = []
    reload = threading.Thread(
        target=lambda: result.append(d.reload(local_config(model={"precision": "fp32"})))
    )
    reload.start()
    while "RELOADING=1" not in notes.fields:
        time.sleep(0.005)
    t0 = time.monotonic()
    d.stop()
    stop_s = time.monotonic() - t0
    reload.join(30)
    assert stop_s < 1.0 and d.state is State.STOPPED
    assert result == [False] and d.model.card.precision == "int8"
    after = notes.fields[notes.fields.index("STOPPING=1") :]
    assert "READY=1" not in after

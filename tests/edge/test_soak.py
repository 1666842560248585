"""The soak command's machinery on a short run (the long run is a benchmark, not a test)."""

from __future__ import annotations

from edge.soak.run import SoakConfig, run_soak


def test_a_short_soak_adds_up_with_reloads_and_a_crashing_subscriber() -> None:
    result = run_soak(SoakConfig(frames=300, size_px=64, reload_every=100, kill_every=100))
    assert result.adds_up(), result.counters
    assert result.counters["received"] == 300
    assert result.reloads["ok"] >= 2 and result.reloads["failed"] == 0
    assert result.subscriber_restarts >= 2 and result.fast_received > 0
    assert [s.frames >= 0 for s in result.samples] == [True, True, True]
    assert "they add up" in "\n".join(result.lines())


def test_a_short_hostile_soak_keeps_serving_and_adds_up() -> None:
    """Issue 25's soak: bad frames and malformed messages at 1:10 through the ingest
    socket, every other reload a NaN model, the sidecar on a flapping port. The daemon
    serves on, its counters add up, every NaN reload fails, the bad frames that reached
    it are rejected, no stale connects pile up on the flapping port."""
    result = run_soak(
        SoakConfig(frames=440, size_px=64, reload_every=100, kill_every=150, hostile=True)
    )
    h = result.hostile
    assert result.adds_up(), result.counters
    assert not h["daemon_failed"] and h["nan_reloads"] >= 1
    assert result.reloads["failed"] == h["nan_reloads"]
    assert result.reloads["ok"] == sum(result.reloads.values()) - h["nan_reloads"]
    assert h["sent"]["malformed"] >= 5 and h["source_rejected"] == h["sent"]["malformed"]
    assert 0 < result.counters["rejected"] <= h["sent"]["bad_frames"]
    assert result.counters["published"] > 50 and h["sidecar_attempts"] >= 3
    assert "stale" not in " ".join(result.problems())

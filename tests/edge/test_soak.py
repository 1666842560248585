"""The soak command's machinery on a short run (the long run is a benchmark, not a test)."""

from __future__ import annotations

from edge.soak import SoakConfig, run_soak


def test_a_short_soak_adds_up_with_reloads_and_a_crashing_subscriber() -> None:
    result = run_soak(SoakConfig(frames=300, size_px=64, reload_every=100, kill_every=100))
    assert result.adds_up(), result.counters
    assert result.counters["received"] == 300
    assert result.reloads["ok"] >= 2 and result.reloads["failed"] == 0
    assert result.subscriber_restarts >= 2 and result.fast_received > 0
    assert [s.frames >= 0 for s in result.samples] == [True, True, True]
    assert "they add up" in "\n".join(result.lines())

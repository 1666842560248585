from edge.bench import bench


def test_bench_measures_both_paths_and_precisions_on_real_sockets() -> None:
    rows = bench([64], frames=3)
    assert [(r.path, r.precision) for r in rows] == [
        ("numpy only", "-"),
        ("stainer", "int8"),
        ("end to end", "int8"),
        ("stainer", "fp32"),
        ("end to end", "fp32"),
    ]
    for r in rows:
        assert r.frames == 3 and 0 < r.p50_ms <= r.p95_ms and r.fps > 0


def test_bench_hook_times_every_target() -> None:
    from edge.bench import bench_hook

    rows = bench_hook(64, calls=5)
    assert [r.target for r in rows] == ["daemon reading", "no daemon", "in-process"]
    assert all(r.calls == 5 and 0 < r.p50_ms <= r.p95_ms for r in rows)

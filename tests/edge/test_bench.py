import subprocess
import sys

from edge.bench import bench, idle_cpu_percent, session_rows


def test_bench_measures_both_paths_and_precisions_on_real_sockets() -> None:
    rows = bench([64], frames=3)
    assert [(r.path, r.precision) for r in rows] == [
        ("numpy only", "-"),
        ("quality", "-"),
        ("stainer", "int8"),
        ("end to end", "int8"),
        ("e2e overlap", "int8"),
        ("stainer", "fp32"),
        ("end to end", "fp32"),
    ]
    for r in rows:
        assert r.frames == 3 and 0 < r.p50_ms <= r.p95_ms and r.fps > 0
    model_rows = [r for r in rows if r.path in ("stainer", "end to end", "e2e overlap")]
    assert all(50 < r.peak_rss_mb < 4000 for r in model_rows)  # measured, per row


def test_session_option_variants_all_run_the_model() -> None:
    rows = session_rows(64, frames=2)
    assert [r.path for r in rows][:3] == ["default", "1 thread", "spinning on"]
    assert all(r.frames == 2 and r.p50_ms > 0 for r in rows)


def test_idle_cpu_is_measured() -> None:
    assert 0.0 <= idle_cpu_percent(False, seconds=1.0) < 400.0


def test_bench_cli_prints_the_table_with_peak_rss() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "edge.cli", "bench", "--sizes", "64", "--frames", "2", "--no-idle"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "peak RSS MB" in r.stdout.splitlines()[0] and "quality" in r.stdout


def test_bench_hook_times_every_target() -> None:
    from edge.bench import bench_hook

    rows = bench_hook(64, calls=5)
    assert [r.target for r in rows] == ["daemon reading", "no daemon", "in-process"]
    assert all(r.calls == 5 and 0 < r.p50_ms <= r.p95_ms for r in rows)

import subprocess
import sys
from pathlib import Path

import pytest

from edge.bench import LEGS, MARKDOWN_BEGIN, MARKDOWN_END, bench, idle_cpu_percent, session_rows


def test_bench_measures_both_paths_and_precisions_on_real_sockets() -> None:
    rows = bench([64], frames=3)
    assert [(r.path, r.precision) for r in rows] == [
        ("numpy only", "-"),
        ("quality", "-"),
        ("stainer", "int8"),
        ("end to end", "int8"),
        ("e2e overlap", "int8"),
        ("e2e no quality", "int8"),
        ("stainer", "fp32"),
        ("end to end", "fp32"),
    ]
    for r in rows:
        assert r.frames == 3 and 0 < r.p50_ms <= r.p95_ms and r.fps > 0
    e2e = ("end to end", "e2e overlap", "e2e no quality")
    model_rows = [r for r in rows if r.path in ("stainer", *e2e)]
    assert all(50 < r.peak_rss_mb < 4000 for r in model_rows)  # measured, per row
    for r in rows:  # the end-to-end legs, from the headers, add up to the latency
        assert bool(r.legs_ms) == (r.path in e2e)
        if r.legs_ms:
            assert [k for k, _ in r.legs_ms] == list(LEGS) and all(v >= 0 for _, v in r.legs_ms)
            assert dict(r.legs_ms)["wait+stain"] > 0 and sum(v for _, v in r.legs_ms) < 4 * r.p95_ms


def test_session_option_variants_all_run_the_model() -> None:
    rows = session_rows(64, frames=2)
    assert [r.path for r in rows][:3] == ["default", "1 thread", "spinning on"]
    assert all(r.frames == 2 and r.p50_ms > 0 for r in rows)


def test_idle_cpu_is_measured() -> None:
    assert 0.0 <= idle_cpu_percent(False, seconds=1.0) < 400.0


def test_bench_cli_prints_the_table_and_rewrites_only_the_markdown_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n\nbefore\n{MARKDOWN_BEGIN}\nold table\n{MARKDOWN_END}\nafter\n")
    args = ["bench", "--sizes", "64", "--frames", "2", "--no-idle", "--markdown", str(readme)]
    r = subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert "peak RSS MB" in r.stdout.splitlines()[0] and "quality" in r.stdout
    assert "end to end int8 64 px, p50 ms: hand-off" in r.stdout
    text = readme.read_text()
    assert text.startswith("# T\n\nbefore\n") and text.endswith(f"{MARKDOWN_END}\nafter\n")
    assert "old table" not in text and "| end to end | int8 | 64 |" in text
    assert "`aglu-edge bench --sizes 64" in text


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, [], "cannot read it"),
        ("no markers\n", [], "needs the lines"),
        (f"{MARKDOWN_BEGIN}\n{MARKDOWN_END}\n", ["--models", "x.onnx"], "default table only"),
    ],
)
def test_bench_markdown_target_is_checked_before_measuring(
    tmp_path: Path, content: str | None, extra: list[str], message: str
) -> None:
    target = tmp_path / "R.md"
    if content is not None:
        target.write_text(content)
    r = subprocess.run(
        [sys.executable, "-m", "edge.cli", "bench", "--markdown", str(target), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == "" and (content is None or target.read_text() == content)


def test_bench_hook_times_every_target() -> None:
    from edge.sources.mm.hook_bench import bench_hook

    rows = bench_hook(64, calls=5)
    assert [r.target for r in rows] == ["daemon reading", "no daemon", "in-process"]
    assert all(r.calls == 5 and 0 < r.p50_ms <= r.p95_ms for r in rows)

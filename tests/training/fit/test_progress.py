"""Progress: a bar on a terminal, plain lines (no carriage returns) anywhere else."""

from __future__ import annotations

import io
import subprocess
import sys

from training.fit.progress import LineProgress, progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_file_gets_plain_lines_and_no_carriage_return() -> None:
    out = io.StringIO()
    for _ in progress(range(5), desc="fit", unit="step", stream=out):
        pass
    text = out.getvalue()
    assert "\r" not in text
    assert text == text.rstrip("\n") + "\n"
    assert text.splitlines()[-1].startswith("fit: 5/5 step (100%)")


def test_a_terminal_gets_the_tqdm_bar() -> None:
    out = _Tty()
    for _ in progress(range(3), desc="fit", stream=out):
        pass
    assert "\r" in out.getvalue()


def test_lines_come_every_interval_and_once_at_the_end() -> None:
    out, clock = io.StringIO(), _Clock()
    bar: LineProgress[int] = LineProgress(
        None, 100, "train", "step", initial=10, stream=out, interval_s=30, clock=clock
    )
    bar.update(5)  # 0 s: nothing yet
    clock.now = 31.0
    bar.set_postfix(loss="0.1234")
    bar.update(5)
    clock.now = 40.0
    bar.update(5)  # 9 s after the last line: nothing
    bar.close()
    bar.close()  # once only
    lines = out.getvalue().splitlines()
    assert lines == [
        "train: 20/100 step (20%), 31 s, 0.32 step/s, loss 0.1234",
        "train: 25/100 step (25%), 40 s, 0.38 step/s, loss 0.1234",
    ]


def test_unknown_total_and_context_manager() -> None:
    out = io.StringIO()
    with progress(desc="compare", unit="model", stream=out) as bar:
        bar.set_postfix_str("a.pt")
        bar.update(2)
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]]
    assert out.getvalue().startswith("compare: 2 model, ")
    assert out.getvalue().rstrip().endswith("a.pt")


def test_disabled_writes_nothing() -> None:
    out = io.StringIO()
    for _ in progress(range(3), desc="fit", disable=True, stream=out):
        pass
    assert out.getvalue() == ""


def test_a_training_log_under_nohup_has_no_carriage_returns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real fit whose stderr is a file, as under nohup or systemd."""
    log = tmp_path / "fit.log"
    with log.open("w") as f:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "training.cli",
                "fit",
                "training/recipes/sim-unet-mse.toml",
                "--out",
                str(tmp_path),
                "--name",
                "p",
                "--set",
                "stages.pixel_steps=3",
                "--set",
                "optim.val_every=0",
                "--set",
                "optim.batch_size=2",
            ],
            stdout=f,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=300,
        )
    text = log.read_text()
    assert "\r" not in text
    assert "p: pixel: 3/3 step (100%)" in text

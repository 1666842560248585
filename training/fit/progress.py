"""Progress: a tqdm bar on a terminal, plain periodic lines anywhere else.

Under nohup, systemd or CI, stderr is a file: a tqdm bar there writes a ``\\r``
frame per refresh, and a 2500-step training log fills with them. ``progress``
gives a bar when the stream is a terminal and ``LineProgress`` otherwise: one
plain line every ``interval_s`` seconds and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TextIO, TypeVar

T = TypeVar("T")

LINE_INTERVAL_S = 30.0


class LineProgress(Generic[T]):
    """The part of tqdm's interface that AGLU uses, written as plain lines."""

    def __init__(
        self,
        iterable: Iterable[T] | None,
        total: int | None,
        desc: str,
        unit: str,
        initial: int = 0,
        stream: TextIO | None = None,
        interval_s: float = LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._iterable = iterable
        self.total = total
        self.n = initial
        self._start_n = initial
        self._desc, self._unit = desc, unit
        self._stream = stream if stream is not None else sys.stderr
        self._interval_s = interval_s
        self._clock = clock
        self._t0 = self._last = clock()
        self._postfix = ""
        self._closed = False

    def __iter__(self) -> Iterator[T]:
        if self._iterable is None:
            raise TypeError("LineProgress made without an iterable")
        try:
            for item in self._iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_postfix(self, **values: Any) -> None:
        self._postfix = ", ".join(f"{k} {v}" for k, v in values.items())

    def set_postfix_str(self, text: str) -> None:
        self._postfix = text

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        if now - self._last >= self._interval_s:
            self._last = now
            self._write(now)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._write(self._clock())

    def line(self, now: float) -> str:
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        elapsed = now - self._t0
        rate = (self.n - self._start_n) / elapsed if elapsed > 0 else 0.0
        tail = f", {self._postfix}" if self._postfix else ""
        speed = f"{elapsed:.0f} s, {rate:.2f} {self._unit}/s"
        return f"{self._desc}: {done} {self._unit}{pct}, {speed}{tail}"

    def _write(self, now: float) -> None:
        self._stream.write(self.line(now) + "\n")
        self._stream.flush()


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str,
    unit: str = "it",
    initial: int = 0,
    disable: bool = False,
    stream: TextIO | None = None,
) -> Any:
    """A tqdm bar on a terminal; ``LineProgress`` when ``stream`` (stderr) is not one."""
    out = stream if stream is not None else sys.stderr
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if disable or out.isatty():
        from tqdm import tqdm

        return tqdm(
            iterable, total=total, desc=desc, unit=unit, initial=initial, disable=disable, file=out
        )
    return LineProgress(iterable, total, desc, unit, initial=initial, stream=out)

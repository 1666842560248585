"""Bounded latest-wins queue between a source and the stainer.

A source never blocks: when the queue is full the oldest frame is dropped and
counted, so the stainer always works on the newest frames.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestWinsQueue(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._items: collections.deque[T] = collections.deque()
        self._capacity = capacity
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> T | None:
        """Add ``item``; return the item dropped to make room, if any. Never blocks."""
        with self._cond:
            evicted = None
            if len(self._items) >= self._capacity:
                evicted = self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()
            return evicted

    def get(self, timeout_s: float) -> T | None:
        """The oldest queued item, or None after ``timeout_s`` with nothing queued."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout_s)
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

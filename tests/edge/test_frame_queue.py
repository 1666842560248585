import threading

from edge.frame_queue import LatestWinsQueue


def test_full_queue_drops_oldest_and_counts() -> None:
    q: LatestWinsQueue[int] = LatestWinsQueue(2)
    assert q.put(1) is None and q.put(2) is None
    assert q.put(3) == 1
    assert q.dropped == 1
    assert [q.get(0), q.get(0), q.get(0)] == [2, 3, None]


def test_get_wakes_on_put_from_another_thread() -> None:
    q: LatestWinsQueue[int] = LatestWinsQueue(1)
    threading.Timer(0.05, q.put, args=(7,)).start()
    assert q.get(timeout_s=5.0) == 7

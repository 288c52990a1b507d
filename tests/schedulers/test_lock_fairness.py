"""SchedulerLock under contention: released, it goes to the longest waiter (so threads that
take it back to back cannot starve the scheduler's loop), and a greenlet that waits for a
thread lets its hub run meanwhile.

This process is not monkey-patched: ``threading.Thread`` is a real OS thread here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import gevent
import pytest
from gevent.exceptions import BlockingSwitchOutError

from greensched.schedulers._lock import SchedulerLock
from tests.support import (
    PATIENCE,
    assert_another_thread_can_take,
    hub_wait_until,
    start_thread,
    wait_until,
)


def waiters(lock: SchedulerLock) -> int:
    return len(lock._waiters)


def test_a_release_hands_the_lock_to_the_longest_waiter() -> None:
    """Threads queue up while a greenlet holds the lock; the greenlet's release hands it to
    the first of them at once (it is never free in between), and asking for it again right
    away puts the greenlet at the back of the queue."""
    lock = SchedulerLock()
    order: list[str] = []
    lock.acquire()

    def thread_body(name: str) -> Callable[[], None]:
        def body() -> None:
            with lock:
                order.append(name)

        return body

    first = start_thread(thread_body("first thread"))
    hub_wait_until(lambda: waiters(lock) == 1)
    second = start_thread(thread_body("second thread"))
    hub_wait_until(lambda: waiters(lock) == 2)

    lock.release()
    assert lock.locked()  # handed over, not let go
    assert lock._owner is not gevent.getcurrent()
    with lock:  # behind both threads
        order.append("greenlet again")
    first.join(PATIENCE)
    second.join(PATIENCE)
    assert order == ["first thread", "second thread", "greenlet again"]
    assert not lock.locked()


def test_threads_taking_the_lock_back_to_back_do_not_starve_a_waiting_greenlet() -> None:
    """Each thread releases and takes the lock again at once, for as long as the test
    lasts: the greenlet still gets it, after at most one turn of each thread."""
    lock = SchedulerLock()
    stop = threading.Event()
    turns: list[str] = []

    def hammer(name: str) -> Callable[[], None]:
        def body() -> None:
            while not stop.is_set():
                with lock:
                    turns.append(name)

        return body

    threads = [start_thread(hammer(f"thread {index}")) for index in range(4)]
    try:
        hub_wait_until(lambda: len(turns) > 100)  # all going at it
        for _ in range(20):
            turns.append("greenlet asks")
            with lock:
                turns.append("greenlet")
            gevent.sleep(0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(PATIENCE)
    # Between asking and getting it, each thread had the lock once (if it was in the queue
    # already), or twice (if the GIL let it by while the greenlet queued up), never more
    asked = [index for index, turn in enumerate(turns) if turn == "greenlet asks"]
    assert len(asked) == 20
    for start in asked:
        end = turns.index("greenlet", start)
        between = turns[start + 1 : end]
        assert all(between.count(name) <= 2 for name in set(between)), between


def test_a_greenlet_waiting_for_a_thread_lets_its_hub_run() -> None:
    """The thread holds the lock until a greenlet of this hub tells it to let go: that
    greenlet must run while another greenlet of this thread waits for the lock."""
    lock = SchedulerLock()
    held = threading.Event()
    let_go = threading.Event()
    order: list[str] = []

    def thread_body() -> None:
        with lock:
            held.set()
            let_go.wait(PATIENCE)
            order.append("thread lets go")

    thread = start_thread(thread_body)
    assert held.wait(PATIENCE)

    def releaser() -> None:
        order.append("hub ran")
        let_go.set()

    gevent.spawn(releaser)
    with lock:  # waits in the hub, which runs the releaser
        order.append("greenlet")
    thread.join(PATIENCE)
    assert order == ["hub ran", "thread lets go", "greenlet"]


def test_a_greenlet_killed_after_the_lock_was_handed_to_it_passes_it_on() -> None:
    lock = SchedulerLock()
    lock.acquire()
    waiter = gevent.spawn(lock.acquire)
    hub_wait_until(lambda: waiters(lock) == 1)
    lock.release()  # handed to the waiter, which has not run yet
    assert lock._owner is waiter
    waiter.kill()
    assert not lock.locked()
    assert_another_thread_can_take(lock)


def test_the_hub_may_not_wait_for_a_greenlet_of_its_own_thread() -> None:
    """A callback of the hub's loop cannot yield: waiting for the greenlet holding the lock
    would never end."""
    lock = SchedulerLock()
    errors: list[BaseException] = []

    def callback() -> None:
        try:
            lock.acquire()
        except BlockingSwitchOutError as exc:
            errors.append(exc)

    with lock:
        gevent.get_hub().loop.run_callback(callback)
        gevent.sleep(0)  # the hub runs the callback
    assert len(errors) == 1
    with pytest.raises(BlockingSwitchOutError, match=r"^Impossible to wait for a scheduler lock"):
        raise errors[0]
    assert not lock.locked()


def test_the_hub_waits_for_a_thread() -> None:
    """A callback of the hub's loop may wait for another thread: that blocks this thread
    until the other one lets go."""
    lock = SchedulerLock()
    held = threading.Event()
    order: list[str] = []

    def thread_body() -> None:
        with lock:
            held.set()
            wait_until(lambda: waiters(lock) > 0, what="the hub to wait for the lock")
            order.append("thread lets go")

    def callback() -> None:
        with lock:
            order.append("hub")

    thread = start_thread(thread_body)
    assert held.wait(PATIENCE)
    gevent.get_hub().loop.run_callback(callback)
    gevent.sleep(0)  # the hub runs the callback, which blocks this thread for a while
    thread.join(PATIENCE)
    assert order == ["thread lets go", "hub"]

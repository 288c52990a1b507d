"""SchedulerLock: reentrant per greenlet, exclusive across greenlets and real OS threads, and
never blocking a hub on a greenlet of its own thread.

This process is not monkey-patched: ``threading.Thread`` is a real OS thread here.
"""

from __future__ import annotations

import threading

import gevent
import gevent.event

from greensched.schedulers._lock import SchedulerLock
from tests.support import (
    PATIENCE,
    assert_another_thread_can_take,
    hub_wait_until,
    start_thread,
    wait_until,
)


def test_the_holding_greenlet_may_acquire_again() -> None:
    lock = SchedulerLock()
    with lock, lock:
        assert lock.locked()
    assert not lock.locked()


def test_release_by_a_greenlet_that_does_not_hold_it_is_refused() -> None:
    lock = SchedulerLock()
    lock.acquire()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            lock.release()
        except RuntimeError as exc:
            errors.append(exc)

    gevent.spawn(other).join()
    assert [str(error) for error in errors] == [
        "cannot release a scheduler lock held by another greenlet"
    ]
    lock.release()
    assert not lock.locked()


def test_a_waiting_greenlet_lets_the_hub_run_while_the_holder_yields() -> None:
    lock = SchedulerLock()
    order: list[str] = []
    ticks: list[int] = []
    ticked = gevent.event.Event()

    def holder() -> None:
        with lock:
            order.append("holder in")
            # yields while holding: the ticker must keep running while the waiter waits
            assert ticked.wait(PATIENCE)
            order.append("holder out")

    def waiter() -> None:
        with lock:
            order.append("waiter in")

    def ticker() -> None:
        for i in range(5):
            ticks.append(i)
            gevent.sleep(0)
        ticked.set()

    greenlets = [gevent.spawn(holder), gevent.spawn(waiter), gevent.spawn(ticker)]
    gevent.joinall(greenlets, timeout=PATIENCE, raise_error=True)
    assert order == ["holder in", "holder out", "waiter in"]
    assert ticks == [0, 1, 2, 3, 4]


def test_a_greenlet_killed_while_waiting_leaves_the_lock_usable() -> None:
    lock = SchedulerLock()
    lock.acquire()
    waiter = gevent.spawn(lock.acquire)
    hub_wait_until(lambda: len(lock._waiters) == 1)  # the waiter now waits its turn
    waiter.kill()
    lock.release()
    assert not lock.locked()
    assert_another_thread_can_take(lock)


def test_an_os_thread_waits_while_a_greenlet_holds_it_across_a_yield() -> None:
    lock = SchedulerLock()
    order: list[str] = []

    def thread_body() -> None:
        with lock:
            order.append("thread")

    with lock:
        thread = start_thread(thread_body)
        hub_wait_until(lambda: len(lock._waiters) == 1)  # the hub runs; the thread waits
        order.append("greenlet")
    hub_wait_until(lambda: not thread.is_alive())
    assert order == ["greenlet", "thread"]


def test_a_greenlet_waits_while_an_os_thread_holds_it() -> None:
    lock = SchedulerLock()
    held = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def thread_body() -> None:
        with lock:
            held.set()
            release.wait(PATIENCE)
            order.append("thread")

    thread = start_thread(thread_body)
    assert held.wait(PATIENCE)

    def let_go_once_the_greenlet_waits() -> None:
        wait_until(lambda: len(lock._waiters) == 1, what="the greenlet to wait")
        release.set()

    releaser = start_thread(let_go_once_the_greenlet_waits)
    with lock:  # blocks this thread until the other one lets go
        order.append("greenlet")
    thread.join(PATIENCE)
    releaser.join(PATIENCE)
    assert order == ["thread", "greenlet"]


def test_greenlets_of_two_threads_exclude_each_other() -> None:
    """A read-modify-write with a yield in the middle, by greenlets of this thread and of a
    second thread with a hub of its own, loses no update."""
    lock = SchedulerLock()
    state = {"count": 0}
    rounds = 30

    def bump() -> None:
        for _ in range(rounds):
            with lock:
                value = state["count"]
                gevent.sleep(0)  # another greenlet of the same thread runs here
                state["count"] = value + 1

    def other_thread() -> None:
        gevent.joinall([gevent.spawn(bump) for _ in range(3)], raise_error=True)
        gevent.get_hub().destroy(destroy_loop=True)

    thread = start_thread(other_thread)
    gevent.joinall([gevent.spawn(bump) for _ in range(3)], timeout=PATIENCE, raise_error=True)
    hub_wait_until(lambda: not thread.is_alive())
    assert state["count"] == 6 * rounds


def test_plain_threads_and_greenlets_exclude_each_other() -> None:
    lock = SchedulerLock()
    threads = 4
    state = {"count": 0}
    rounds = 200

    def bump_in_thread() -> None:
        for _ in range(rounds):
            with lock:
                value = state["count"]
                state["count"] = value + 1

    def bump_in_greenlet() -> None:
        for _ in range(rounds):
            with lock:
                value = state["count"]
                gevent.sleep(0)
                state["count"] = value + 1

    workers = [start_thread(bump_in_thread) for _ in range(threads)]
    gevent.joinall([gevent.spawn(bump_in_greenlet) for _ in range(2)], raise_error=True)
    hub_wait_until(lambda: not any(worker.is_alive() for worker in workers))
    assert state["count"] == (threads + 2) * rounds

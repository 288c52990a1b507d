"""The loop's waker: settable from any OS thread, safe after its thread has gone."""

from __future__ import annotations

import threading

import gevent

from greensched.schedulers._waker import Waker


def in_new_thread(target: object) -> None:
    thread = threading.Thread(target=target)  # type: ignore[arg-type]
    thread.start()
    thread.join(5)
    assert not thread.is_alive()


def test_set_from_another_thread_wakes_the_owner() -> None:
    waker = Waker()
    assert waker.in_owner_thread()
    woken: list[bool] = []

    def other() -> None:
        assert not waker.in_owner_thread()
        waker.set()

    thread = threading.Thread(target=other)
    thread.start()
    waker.wait(5)
    woken.append(True)
    thread.join()
    assert woken == [True]


def test_waiting_forever_in_a_bare_thread_does_not_raise_loop_exit() -> None:
    """With no other watcher in its hub, a wait without a timeout must still be wakeable."""
    outcome: list[str] = []
    ready = threading.Event()
    holder: list[Waker] = []

    def owner() -> None:
        holder.append(Waker())
        ready.set()
        holder[0].wait(None)
        outcome.append("woken")
        gevent.get_hub().destroy(destroy_loop=True)

    thread = threading.Thread(target=owner)
    thread.start()
    assert ready.wait(5)
    gevent.sleep(0.01)
    holder[0].set()
    thread.join(5)
    assert outcome == ["woken"]


def test_set_after_the_owner_thread_destroyed_its_loop_is_a_no_op() -> None:
    holder: list[Waker] = []

    def owner() -> None:
        holder.append(Waker())
        gevent.get_hub().destroy(destroy_loop=True)

    in_new_thread(owner)
    holder[0].set()  # nothing to wake, and no error

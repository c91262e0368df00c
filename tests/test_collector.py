"""``core.collector.paused``: the collector is off inside, back as it was after the last block, nested or in
threads at once."""

from __future__ import annotations

import gc
import threading

from cadastre.core import collector


def test_nested_blocks_pause_until_the_outermost_ends_and_a_decorated_function_keeps_its_name():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()

    @collector.paused()
    def work():
        """Bulk work."""
        return gc.isenabled()

    assert work() is False and work.__name__ == "work" and work.__doc__ == "Bulk work."
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off_and_a_failure_restores_it():
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    try:
        with collector.paused():
            raise ValueError("a failed read")
    except ValueError:
        pass
    assert gc.isenabled()


def test_overlapping_blocks_in_threads_bring_it_back_when_the_last_ends():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with collector.paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with collector.paused():
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after the first ended": False} and gc.isenabled()

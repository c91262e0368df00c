"""Code high-water marks: monotonic, bounded, rolled back with their transaction, safe under concurrency."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from cadastre.core.errors import AllocationError
from cadastre.store.counters import high_water, raise_to, reserve, scope_maximum
from cadastre.store.engine import create_engine, write_transaction

PARCEL_SCOPE = "141031001002GB"
BUILDING_SCOPE = "141031001002GB00017F"
UNIT_SCOPE = "141031001002GB00017F0003"


def test_reserve_counts_up_from_the_mark(engine):
    with write_transaction(engine) as c:
        assert reserve(c, PARCEL_SCOPE) == range(1, 2)
        assert reserve(c, PARCEL_SCOPE, 3) == range(2, 5)
        assert reserve(c, UNIT_SCOPE, 2) == range(1, 3)
    with engine.connect() as c:
        assert high_water(c, [PARCEL_SCOPE, UNIT_SCOPE, BUILDING_SCOPE]) == {
            PARCEL_SCOPE: 4, UNIT_SCOPE: 2, BUILDING_SCOPE: 0}


def test_a_failed_transaction_leaves_no_number_used(engine):
    with write_transaction(engine) as c:
        reserve(c, PARCEL_SCOPE, 5)
    with pytest.raises(RuntimeError):
        with write_transaction(engine) as c:
            assert reserve(c, PARCEL_SCOPE, 10) == range(6, 16)
            raise RuntimeError("load failed half-way")
    with write_transaction(engine) as c:
        assert reserve(c, PARCEL_SCOPE) == range(6, 7)  # no gap


def test_raise_to_never_lowers_the_mark(engine):
    with write_transaction(engine) as c:
        assert raise_to(c, BUILDING_SCOPE, 7) == 7
        assert raise_to(c, BUILDING_SCOPE, 3) == 7
        assert reserve(c, BUILDING_SCOPE) == range(8, 9)


def test_limits_of_each_scope(engine):
    assert scope_maximum(PARCEL_SCOPE) == 99999
    assert scope_maximum(BUILDING_SCOPE) == 9998  # 9999 is never allocated automatically
    assert scope_maximum("141031001002GB00017L") == 99999999
    assert scope_maximum(UNIT_SCOPE) == 9999
    with pytest.raises(AllocationError):
        scope_maximum("141031")
    with write_transaction(engine) as c:
        raise_to(c, BUILDING_SCOPE, 9997)
        assert reserve(c, BUILDING_SCOPE) == range(9998, 9999)
    with pytest.raises(AllocationError, match="已用尽"):
        with write_transaction(engine) as c:
            reserve(c, BUILDING_SCOPE)


def test_concurrent_writers_never_share_a_number(db_url, engine):
    """Four writers, each with its own engine (connection pool), allocate from one scope at the same time."""
    per_writer, writers = 25, 4
    results: list[list[int]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def work(i: int) -> None:
        own = create_engine(db_url)
        try:
            barrier.wait()
            for _ in range(per_writer):
                with write_transaction(own) as c:
                    results[i].extend(reserve(c, PARCEL_SCOPE, 2))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            own.dispose()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    numbers = sorted(n for r in results for n in r)
    assert numbers == list(range(1, writers * per_writer * 2 + 1))  # no duplicates, no gaps
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT last_value FROM code_counter WHERE prefix = :p"),
                         {"p": PARCEL_SCOPE}).scalar_one() == writers * per_writer * 2

"""SQLite's WAL checkpoints run in a thread after write transactions (``store.checkpoint``), not inside COMMIT."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest
import sqlean

from cadastre.store import checkpoint
from cadastre.store.checkpoint import Checkpointer
from cadastre.store.engine import checkpointer, create_engine, write_transaction

ROWS = 6_000  # ~1 KB each: 1 500 pages, more than the 1 000 at which COMMIT would checkpoint by itself


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'wal.sqlite'}")
    with write_transaction(engine) as c:
        c.exec_driver_sql("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    checkpointer(engine).wait()
    yield engine
    engine.dispose()


def _write(engine) -> None:
    with write_transaction(engine) as c:
        c.exec_driver_sql("INSERT INTO t (v) VALUES (?)", [("x" * 1000,)] * ROWS)


def _database_bytes(engine) -> int:
    return checkpointer(engine).path.stat().st_size


def test_commit_leaves_the_checkpoint_to_the_thread(engine, monkeypatch):
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    before = _database_bytes(engine)
    monkeypatch.setattr(Checkpointer, "request", lambda self: None)  # nobody checkpoints
    _write(engine)
    assert _database_bytes(engine) == before  # committed, still only in the WAL: COMMIT copied nothing
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM t").scalar() == ROWS
    monkeypatch.undo()
    done = checkpointer(engine).done
    _write(engine)
    checkpointer(engine).wait()
    assert checkpointer(engine).done > done
    assert _database_bytes(engine) > before + 2 * ROWS * 1000  # both transactions copied into the file


def test_the_thread_ends_when_idle_and_when_the_engine_is_disposed(engine, monkeypatch):
    monkeypatch.setattr(checkpoint, "IDLE_S", 0.05)
    watcher = checkpointer(engine)
    _write(engine)
    watcher.wait()
    deadline = time.monotonic() + 5
    while watcher._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watcher._thread is None  # idle: gone
    monkeypatch.setattr(checkpoint, "IDLE_S", 30.0)
    _write(engine)
    thread = watcher._thread
    engine.dispose()  # a registry closed: the thread is stopped and joined, the last connection checkpoints
    assert watcher._thread is None and not thread.is_alive()
    assert not watcher.path.with_name("wal.sqlite-wal").exists()
    _write(engine)  # the engine still works after dispose, with a new thread
    watcher.wait()
    assert watcher._thread is not None and watcher._thread.is_alive()


def test_a_removed_file_is_reported_not_created_again(tmp_path, caplog):
    gone = Checkpointer(tmp_path / "gone.sqlite", sqlean.connect)
    with pytest.raises(sqlean.OperationalError):
        gone.checkpoint()
    with caplog.at_level(logging.WARNING, logger="cadastre.store"):
        gone.request()
        gone.wait()
        gone.close()
    assert "WAL checkpoint" in caplog.text
    assert not (tmp_path / "gone.sqlite").exists()


def test_a_forked_child_checkpoints_with_a_thread_of_its_own(engine):
    watcher = checkpointer(engine)
    _write(engine)
    watcher.wait()
    with watcher._lock:  # held at the fork, as the parent's thread may hold it: the child must not wait for it
        pid = os.fork()
        if pid == 0:  # the child: request, wait, report through the exit code
            code = 1
            try:
                done = watcher.done
                watcher.request()
                watcher.wait(10)
                code = 0 if watcher.done > done else 2
            finally:
                os._exit(code)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on its parent's lock")
    assert os.waitstatus_to_exitcode(status) == 0

"""Views rewritten through spare files (storage/spares.py, issue 15 round 3).

Real files, a real reader process, the real renameat2 and leases: the rewrite
is atomic for readers, a reader holding the old file keeps its content, no
inode is created or freed per rewrite, the mode is kept, and wherever the
exchange cannot be made the temporary file and rename of before still work.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from teamexec.core.model import Task
from teamexec.storage import atomic, spares
from teamexec.storage.journal import Journal
from teamexec.storage.paths import SessionPaths
from teamexec.storage.spares import SparePool
from teamexec.storage.store import TaskStore

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="renameat2 and leases: Linux")


def _pool(tmp_path: Path) -> tuple[SparePool, Path]:
    (tmp_path / "tasks").mkdir()
    return SparePool(tmp_path / ".teamexec.spare"), tmp_path / "tasks" / "A-1.json"


def _write(path: Path, data: bytes, pool: SparePool | None) -> None:
    atomic.atomic_write(path, data, durable=False, spares=pool)


def _spares(pool: SparePool) -> list[str]:
    return sorted(os.listdir(pool.directory)) if pool.directory.exists() else []


def _inodes(path: Path, pool: SparePool) -> set[int]:
    names = [path] + [pool.directory / n for n in _spares(pool)]
    return {os.stat(p).st_ino for p in names}


def test_a_rewrite_creates_and_frees_no_inode(tmp_path):
    pool, view = _pool(tmp_path)
    _write(view, b"first\n", pool)  # the first write: a spare renamed into place
    _write(view, b"second\n", pool)
    before = _inodes(view, pool)
    for i in range(500):
        _write(view, json.dumps({"n": i, "pad": "x" * (i % 50)}).encode(), pool)
        assert _inodes(view, pool) == before  # the same files, their names swapped
    assert json.loads(view.read_bytes())["n"] == 499
    assert os.listdir(view.parent) == ["A-1.json"]  # no temporary file, ever
    pool.close()
    assert not pool.directory.exists()
    assert view.read_bytes().startswith(b'{"n": 499')


def test_a_reader_never_sees_a_torn_or_empty_view(tmp_path):
    """Another process reads the view in a loop while it is rewritten thousands of
    times with contents of changing length: every read is one whole version."""
    pool, view = _pool(tmp_path)
    _write(view, json.dumps({"n": -1}).encode(), pool)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(view), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline() == "reading\n"
        for i in range(3000):
            _write(view, json.dumps({"n": i, "pad": "y" * (i * 7 % 300)}).encode(), pool)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    reads, bad = out.split()
    assert bad == "0" and int(reads) > 0


READER = """
import json, os, sys
view, stop = sys.argv[1], sys.argv[2]
reads = bad = 0
print("reading", flush=True)
while not os.path.exists(stop) or reads == 0:
    with open(view, "rb") as handle:
        data = handle.read()
    reads += 1
    try:
        value = json.loads(data)
        if value.get("pad", "y" * (value["n"] * 7 % 300)) != "y" * (value["n"] * 7 % 300):
            bad += 1
    except (ValueError, KeyError, AttributeError):
        bad += 1
print(reads, bad)
"""


def test_a_reader_holding_the_old_view_keeps_its_content(tmp_path):
    pool, view = _pool(tmp_path)
    _write(view, b"old\n", pool)
    _write(view, b"older-still-readable\n", pool)
    with open(view, "rb") as held:
        for i in range(50):  # many times round the pool: the held file is never taken
            _write(view, f"new {i}\n".encode(), pool)
        assert held.read() == b"older-still-readable\n"
        assert len(_spares(pool)) >= 2  # another spare was made instead
    assert view.read_bytes() == b"new 49\n"
    _write(view, b"after\n", pool)  # let go: the file serves as a spare again
    assert view.read_bytes() == b"after\n"
    pool.close()


def test_a_reader_that_opened_a_view_keeps_it_through_any_number_of_rewrites(tmp_path):
    pool, view = _pool(tmp_path)
    for i in range(5):
        _write(view, f"v{i}\n".encode(), pool)
    handles = []
    try:
        for i in range(20):  # a reader opens each version in turn and keeps it open
            handles.append(open(view, "rb"))  # noqa: SIM115
            _write(view, f"w{i}\n".encode(), pool)
        for j, handle in enumerate(handles):
            assert handle.read() == (b"v4\n" if j == 0 else f"w{j - 1}\n".encode())
    finally:
        for handle in handles:
            handle.close()
    assert view.read_bytes() == b"w19\n"
    pool.close()


def test_the_mode_is_kept_and_a_new_view_gets_an_ordinary_files(tmp_path):
    pool, view = _pool(tmp_path)
    _write(view, b"1\n", pool)
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(view).st_mode & 0o777 == 0o666 & ~atomic._UMASK
    os.chmod(view, 0o640)
    for i in range(5):
        _write(view, f"{i}\n".encode(), pool)
        assert os.stat(view).st_mode & 0o777 == 0o640
    other = view.with_name("B-1.json")
    _write(other, b"b\n", pool)  # a new view from a spare that held a 0640 file
    assert os.stat(other).st_mode & 0o777 == 0o666 & ~atomic._UMASK
    pool.close()


def test_symlinked_and_hard_linked_views_are_replaced_as_before(tmp_path):
    pool, view = _pool(tmp_path)
    _write(view, b"a\n", pool)
    _write(view, b"b\n", pool)
    link = tmp_path / "elsewhere.json"
    os.link(view, link)
    _write(view, b"c\n", pool)  # a rename: the other name keeps its file
    assert link.read_bytes() == b"b\n" and view.read_bytes() == b"c\n"
    target = tmp_path / "target.json"
    target.write_bytes(b"t\n")
    view.unlink()
    view.symlink_to(target)
    _write(view, b"d\n", pool)
    assert not view.is_symlink() and view.read_bytes() == b"d\n"
    assert target.read_bytes() == b"t\n" and link.read_bytes() == b"b\n"
    for _ in range(10):
        _write(view, b"e\n", pool)
    assert link.read_bytes() == b"b\n" and target.read_bytes() == b"t\n"
    pool.close()


def test_no_renameat2_falls_back_to_a_temporary_file(tmp_path, monkeypatch):
    def refused(*_args: Any) -> None:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(spares, "exchange", refused)
    pool, view = _pool(tmp_path)
    _write(view, b"1\n", pool)
    first = os.stat(view).st_ino
    _write(view, b"2\n", pool)
    assert view.read_bytes() == b"2\n" and os.stat(view).st_ino != first
    assert not pool.directory.exists()  # the probe failed: nothing left behind
    assert os.listdir(view.parent) == ["A-1.json"]


def test_no_leases_falls_back_to_a_temporary_file(tmp_path, monkeypatch):
    def refused(_fd: int) -> None:
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(spares, "lease", refused)
    pool, view = _pool(tmp_path)
    for i in range(3):
        _write(view, f"{i}\n".encode(), pool)
    assert view.read_bytes() == b"2\n" and not pool.directory.exists()


def test_an_exchange_refused_later_falls_back_for_that_directory(tmp_path, monkeypatch):
    pool, view = _pool(tmp_path)
    _write(view, b"1\n", pool)
    _write(view, b"2\n", pool)
    calls: list[str] = []

    def refused(_dir_fd: int, _src: str, dst: str) -> None:
        calls.append(dst)
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), dst)

    monkeypatch.setattr(spares, "exchange", refused)
    _write(view, b"3\n", pool)
    _write(view, b"4\n", pool)
    assert view.read_bytes() == b"4\n"
    assert len(calls) == 1  # decided once for the directory
    assert os.listdir(view.parent) == ["A-1.json"]
    pool.close()
    assert not pool.directory.exists()


def test_views_on_another_file_system_are_written_as_before(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second file system")
    pool = SparePool(tmp_path / ".teamexec.spare")
    other = shm / f"teamexec-spares-{os.getpid()}"
    other.mkdir()
    try:
        view = other / "A-1.json"
        for i in range(3):
            _write(view, f"{i}\n".encode(), pool)
        assert view.read_bytes() == b"2\n" and os.listdir(other) == ["A-1.json"]
    finally:
        for name in os.listdir(other):
            os.unlink(other / name)
        other.rmdir()
        pool.close()


def test_a_failed_exchange_leaves_the_old_view_and_raises(tmp_path, monkeypatch):
    pool, view = _pool(tmp_path)
    _write(view, b"old\n", pool)
    _write(view, b"kept\n", pool)

    def eio(*_args: Any) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(spares, "exchange", eio)
    with pytest.raises(OSError, match="Input/output"):
        _write(view, b"lost\n", pool)
    monkeypatch.undo()
    assert view.read_bytes() == b"kept\n" and os.listdir(view.parent) == ["A-1.json"]
    _write(view, b"then\n", pool)  # the spare went back to the pool
    assert view.read_bytes() == b"then\n"
    pool.close()


def test_a_full_disk_while_filling_a_spare_leaves_the_old_view(tmp_path, monkeypatch):
    pool, view = _pool(tmp_path)
    _write(view, b"old\n", pool)
    _write(view, b"kept\n", pool)

    def full(*_args: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(spares.os, "pwrite", full)
    with pytest.raises(OSError, match="No space"):
        _write(view, b"lost\n", pool)
    monkeypatch.undo()
    assert view.read_bytes() == b"kept\n"
    _write(view, b"then\n", pool)
    assert view.read_bytes() == b"then\n"
    pool.close()
    assert not pool.directory.exists()


def test_spares_a_killed_run_left_are_taken_over_and_removed(tmp_path):
    pool, view = _pool(tmp_path)
    pool.directory.mkdir()
    for name in ("0", "7", "junk"):
        (pool.directory / name).write_bytes(b"stale")
    _write(view, b"1\n", pool)
    _write(view, b"2\n", pool)
    assert view.read_bytes() == b"2\n"
    pool.close()
    assert not pool.directory.exists()


def test_a_closed_pool_writes_as_before(tmp_path):
    pool, view = _pool(tmp_path)
    _write(view, b"1\n", pool)
    pool.close()
    _write(view, b"2\n", pool)
    assert view.read_bytes() == b"2\n" and not pool.directory.exists()


def test_durable_writes_never_use_spares(tmp_path):
    pool, view = _pool(tmp_path)
    atomic.atomic_write(view, b"1\n", durable=True, spares=pool)
    atomic.atomic_write(view, b"2\n", durable=True, spares=pool)
    assert view.read_bytes() == b"2\n" and not pool.directory.exists()


# ------------------------------------------------------------------ through the store
def _task(task_id: str, status: str = "pending", **meta: Any) -> Task:
    return Task({"id": task_id, "subject": task_id, "status": status, "metadata": meta})


def _executor_store(tmp_path: Path, *lagging: str) -> tuple[SessionPaths, TaskStore, SparePool]:
    paths = SessionPaths(tmp_path / "s")
    paths.tasks.mkdir(parents=True)
    store = TaskStore(paths.tasks)
    store.journal = Journal(paths.journal, root=paths.root, boot="boot-A")
    store.lag = lambda task_id: task_id in lagging
    store.spares = SparePool(paths.spares)
    return paths, store, store.spares


def test_the_view_writer_rewrites_views_without_new_inodes(tmp_path):
    ids = [f"A-{i:03d}" for i in range(20)]
    paths, store, pool = _executor_store(tmp_path, *ids)
    store.background_views()
    for task_id in ids:
        store.write(_task(task_id))
    store.flush_views()  # first writes: each takes a spare (a new file) for good
    for task_id in ids:
        store.write(_task(task_id, "in_progress", claimed_by="w"))
    store.flush_views()  # the first rewrite makes the pool's one spare
    seen = {os.stat(paths.task_file(t)).st_ino for t in ids} | {
        os.stat(paths.spares / n).st_ino for n in os.listdir(paths.spares)
    }
    assert len(seen) == len(ids) + 1
    for round_ in range(5):
        for task_id in ids:
            store.write(_task(task_id, "in_progress", claimed_by=f"w{round_}"))
        store.flush_views(wait=False)
        store.flush_views()
        now = {os.stat(paths.task_file(t)).st_ino for t in ids} | {
            os.stat(paths.spares / n).st_ino for n in os.listdir(paths.spares)
        }
        assert now == seen
    assert sorted(os.listdir(paths.tasks)) == [".lock", *(f"{t}.json" for t in ids)]
    assert all(json.loads(paths.task_file(t).read_text())["status"] == "in_progress" for t in ids)
    pool.close()
    assert not paths.spares.exists()
    task = TaskStore(paths.tasks).read("A-007")
    assert task is not None and task.metadata["claimed_by"] == "w4"


def test_a_superseded_spare_goes_back_to_the_pool(tmp_path, monkeypatch):
    """The thread's spare for a state the loop superseded meanwhile is given back,
    not installed; the newer state is written by the next flush."""
    import threading

    paths, store, pool = _executor_store(tmp_path, "A-001")
    store.background_views()
    store.write(_task("A-001"))
    store.flush_views()
    store.write(_task("A-001", "in_progress", claimed_by="w"))
    real_prepare = atomic.prepare
    prepared, superseded = threading.Event(), threading.Event()

    def prepare_then_wait(path: Path, data: bytes, **kwargs: Any) -> atomic.Staged:
        staged = real_prepare(path, data, **kwargs)
        assert staged.spare is not None  # the thread writes through a spare
        prepared.set()
        assert superseded.wait(10)
        return staged

    monkeypatch.setattr(atomic, "prepare", prepare_then_wait)
    store.flush_views(wait=False)
    assert prepared.wait(10)
    store.write(_task("A-001", "completed"))
    superseded.set()
    store._writer.drain()  # type: ignore[union-attr]
    monkeypatch.setattr(atomic, "prepare", real_prepare)
    assert json.loads(paths.task_file("A-001").read_text())["status"] == "pending"
    store.flush_views()
    assert json.loads(paths.task_file("A-001").read_text())["status"] == "completed"
    assert sorted(os.listdir(paths.tasks)) == [".lock", "A-001.json"]
    pool.close()
    assert not paths.spares.exists()


def test_the_lease_is_gone_once_the_view_is_written(tmp_path):
    """A reader opening the view right after a rewrite never waits on our lease."""
    pool, view = _pool(tmp_path)
    for i in range(3):
        _write(view, f"{i}\n".encode(), pool)
    started = time.monotonic()
    with open(view, "rb") as handle:
        assert handle.read() == b"2\n"
    assert time.monotonic() - started < 1.0
    pool.close()


def test_a_pool_closed_while_a_spare_is_out_finishes_that_write_then_goes(tmp_path):
    """The loop's end closes the pool while the view writer's thread still holds
    a spare: that write lands, then the spare and the directory are removed."""
    pool, view = _pool(tmp_path)
    _write(view, b"1\n", pool)
    _write(view, b"2\n", pool)
    staged = atomic.prepare(view, b"3\n", durable=False, spares=pool)
    assert staged.spare is not None
    pool.close()
    assert pool.directory.exists()  # the spare out keeps it
    atomic.install(staged, view)
    assert view.read_bytes() == b"3\n" and not pool.directory.exists()
    _write(view, b"4\n", pool)
    assert view.read_bytes() == b"4\n" and not pool.directory.exists()

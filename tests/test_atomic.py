"""atomic_write keeps the replaced file's mode; a new file gets an ordinary file's mode."""

from __future__ import annotations

import os
import stat

import pytest

from teamexec.storage.atomic import atomic_write


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("before", [0o644, 0o600, 0o664, 0o755], ids=oct)
def test_a_rewrite_keeps_the_mode(tmp_path, before):
    path = tmp_path / "team-session.json"
    path.write_text("{}\n")
    path.chmod(before)
    atomic_write(path, b'{"a": 1}\n')
    assert mode(path) == before
    assert path.read_bytes() == b'{"a": 1}\n'


def test_a_new_file_gets_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    os.umask(old)
    path = tmp_path / "new.json"
    atomic_write(path, b"{}\n")
    assert mode(path) == 0o666 & ~old

"""Shared fixtures: fail any test that leaks a child process or a thread."""

from __future__ import annotations

import threading

import psutil
import pytest


@pytest.fixture(autouse=True)
def claude_config_in_tmp(tmp_path_factory, monkeypatch):
    """Claude task lists a test makes land in a tmp dir, never in the real ~/.claude (§5)."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path_factory.mktemp("claude-config")))


@pytest.fixture(autouse=True)
def no_leaks():
    """Every process a test starts must be gone, and every thread joined, by its end."""
    me = psutil.Process()
    before_threads = {t.ident for t in threading.enumerate()}
    yield
    leaked = [p for p in me.children(recursive=True) if p.is_running() and p.status() != "zombie"]
    for proc in leaked:
        proc.kill()
    threads = [
        t
        for t in threading.enumerate()
        if t.ident not in before_threads and t.is_alive() and not t.daemon
    ]
    assert not leaked, f"test leaked processes: {[p.cmdline() for p in leaked]}"
    assert not threads, f"test leaked threads: {threads}"

""".msg/meta.json is CCW's: teamexec merges its own key ``executor`` and nothing else."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from teamexec.storage.paths import SessionPaths
from teamexec.storage.sessionfiles import read_meta_roles, write_meta
from teamexec.validation.schema import schema_errors

sys.path.insert(0, str(Path(__file__).parent / "agents"))
import team_msg  # tests/agents is not a package: agents run its files


def _ccw_meta(project: Path) -> Path:
    """meta.json as team_msg's state_update leaves it (role.md Phase 2 step 9, then a worker)."""
    team_msg.log(
        "TC-m",
        sender="coordinator",
        type_="state_update",
        data={"pipeline_mode": "dynamic", "roles": ["coordinator", "developer"]},
    )
    team_msg.log(
        "TC-m",
        sender="developer",
        type_="state_update",
        data={"task_id": "IMPL-001", "key_findings": ["x"]},
    )
    return project / ".workflow" / ".team" / "TC-m"


def test_ccw_keys_and_types_survive_and_our_view_is_under_executor(tmp_path, monkeypatch):
    monkeypatch.setenv("CCW_PROJECT_ROOT", str(tmp_path))
    root = _ccw_meta(tmp_path)
    before = json.loads((root / ".msg" / "meta.json").read_text())
    paths = SessionPaths(root)
    assert write_meta(paths, "TC-m", {"developer": {"task_id": "IMPL-001", "last_seen": "t"}}, 0)
    after = json.loads((root / ".msg" / "meta.json").read_text())
    assert {k: v for k, v in after.items() if k != "executor"} == before
    assert after["roles"] == ["coordinator", "developer"]  # still a list of names
    assert after["executor"]["roles"]["developer"]["task_id"] == "IMPL-001"
    assert team_msg.get_state("TC-m", "developer")["key_findings"] == ["x"]
    assert schema_errors("meta", after) == []
    assert read_meta_roles(paths) == {"developer": {"task_id": "IMPL-001", "last_seen": "t"}}


def test_a_state_update_between_our_writes_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CCW_PROJECT_ROOT", str(tmp_path))
    root = _ccw_meta(tmp_path)
    paths = SessionPaths(root)
    write_meta(paths, "TC-m", {}, 0)
    team_msg.log("TC-m", sender="tester", type_="state_update", data={"verdict": "pass"})
    write_meta(paths, "TC-m", {"tester": {"task_id": "TEST-001", "last_seen": "t"}}, 1)
    meta = json.loads((root / ".msg" / "meta.json").read_text())
    assert meta["role_state"]["tester"]["verdict"] == "pass"
    assert set(meta["role_state"]) == {"coordinator", "developer", "tester"}


def test_a_file_caught_mid_write_is_never_replaced(tmp_path):
    paths = SessionPaths(tmp_path)
    paths.msg.mkdir()
    paths.meta.write_text('{"status": "active", "role_sta')
    assert write_meta(paths, "S", {}, 0) is False
    assert paths.meta.read_text() == '{"status": "active", "role_sta'


def test_a_missing_file_is_created_in_team_meta_shape(tmp_path):
    paths = SessionPaths(tmp_path)
    assert write_meta(paths, "S", {}, 0)
    meta = json.loads(paths.meta.read_text())
    assert meta["status"] == "active"
    assert meta["created_at"] == "1970-01-01T00:00:00.000+00:00"
    assert schema_errors("meta", meta) == []


def test_the_last_write_of_a_run_waits_out_a_busy_team_msg(tmp_path, monkeypatch):
    """A pass's write gives up while team_msg keeps rewriting the file; the run's last does not.

    team_msg is stood in for by a hook that rewrites meta.json in place (as its
    writeFileSync does) every time teamexec reads it, for the first 20 reads.
    """
    from teamexec.storage import sessionfiles

    paths = SessionPaths(tmp_path)
    paths.msg.mkdir()
    paths.meta.write_text(json.dumps({"status": "active", "role_state": {}}))
    reads = {"n": 0}
    real_read = sessionfiles._read_meta

    def busy_read(p):
        value = real_read(p)
        reads["n"] += 1
        if reads["n"] <= 20:  # team_msg writes again right after each of our reads
            beat = {"status": "active", "role_state": {"coordinator": {"beat": reads["n"]}}}
            with open(paths.meta, "w") as f:
                f.write(json.dumps(beat))
        return value

    monkeypatch.setattr(sessionfiles, "_read_meta", busy_read)
    assert write_meta(paths, "S", {"tester": {"progress_pct": 90}}, 0) is False
    assert "executor" not in json.loads(paths.meta.read_text())  # busy: left for a later pass
    assert write_meta(paths, "S", {"tester": {"progress_pct": 90}}, 0, settle_s=5.0) is True
    meta = json.loads(paths.meta.read_text())
    assert meta["executor"]["roles"]["tester"]["progress_pct"] == 90
    assert meta["role_state"]["coordinator"]["beat"] == 20  # team_msg's last write kept


def test_the_last_write_of_a_run_reads_on_when_its_deadline_meets_the_file_mid_write(
    tmp_path, monkeypatch
):
    """Every read until the deadline finds team_msg mid-write (the file does not
    parse); the run's last write reads on until a copy parses, then merges into it.
    A pass's write gives up instead, and nothing is ever written over a file that
    did not parse."""
    from teamexec.storage import sessionfiles

    paths = SessionPaths(tmp_path)
    paths.msg.mkdir()
    whole = json.dumps({"status": "active", "role_state": {"coordinator": {"beat": 7}}})
    paths.meta.write_text(whole[:20])  # writeFileSync caught halfway
    clock = {"now": 0.0}
    real_read = sessionfiles._read_meta

    def read_then_tick(p):
        clock["now"] += 0.3
        if clock["now"] > 2.5 and clock["now"] < 10:  # team_msg done past the 2 s deadline
            paths.meta.write_text(whole)
        return real_read(p)

    monkeypatch.setattr(sessionfiles.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(sessionfiles.time, "sleep", lambda _s: None)
    monkeypatch.setattr(sessionfiles, "_read_meta", read_then_tick)
    clock["now"] = 10.0  # a pass's write, while team_msg is still at it
    assert write_meta(paths, "S", {"tester": {"progress_pct": 90}}, 0) is False
    assert paths.meta.read_text() == whole[:20]  # never replaced unparsed
    clock["now"] = 0.0  # the run's last write starts: its deadline is at 2 s
    assert write_meta(paths, "S", {"tester": {"progress_pct": 90}}, 0, settle_s=2.0) is True
    meta = json.loads(paths.meta.read_text())
    assert meta["executor"]["roles"]["tester"]["progress_pct"] == 90
    assert meta["role_state"]["coordinator"]["beat"] == 7

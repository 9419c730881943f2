"""A scripted stand-in for an LLM agent: reads its prompt, writes a real markdown artifact.

Runs under teamexec's built-in worker: the prompt arrives on stdin and the
TEAMEXEC_* variables say which task this is.  It reads the upstream
artifacts the task description names, writes ``artifacts/<task-id>.md`` and
reports it with ``teamexec msg``.  Standard library only, no network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    prompt = sys.stdin.read()
    session = Path(os.environ["TEAMEXEC_SESSION"])
    task = os.environ["TEAMEXEC_TASK_ID"]
    role = os.environ["TEAMEXEC_ROLE"]
    purpose = re.search(r"^PURPOSE: (.*)$", prompt, re.M)
    title = purpose.group(1) if purpose else task
    upstream = []
    for name in re.findall(r"artifacts/([\w.-]+\.md)", prompt):
        path = session / "artifacts" / name
        if path.exists() and name != f"{task.lower()}.md":
            upstream.append((name, path.read_text(encoding="utf-8")))
    lines = [f"# {title}", "", f"*{task}, written by the {role}.*", ""]
    if upstream:
        lines.append("## Built on")
        lines += [f"- `{name}`: {text.splitlines()[0].lstrip('# ')}" for name, text in upstream]
        lines.append("")
    steps = re.findall(r"^  - (.*)$", prompt, re.M)
    lines.append("## Notes")
    lines += [f"- {step}" for step in steps[:6]] or ["- (no steps given)"]
    artifact = Path("artifacts") / f"{task.lower()}.md"
    (session / artifact).parent.mkdir(exist_ok=True)
    (session / artifact).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{role}: wrote {artifact}")
    teamexec = shutil.which("teamexec") or "teamexec"
    report = [teamexec, "msg", "task_complete", "--summary", f"wrote {artifact}",
              "--data", json.dumps({"artifact": str(artifact)})]
    return subprocess.run(report, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

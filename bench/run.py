"""Time teamexec against GNU make and Snakemake on the same DAGs, in one run.

    python bench/run.py --sizes 100 1000 --jobs 2 --repeat 3 [--no-snakemake]

For each size it writes the layered DAG (and with --shapes the chain and
fan-out too) as a teamexec session, a Makefile and a Snakefile, then times
``make -jN``, ``snakemake -jN`` and ``teamexec run --max-workers N`` in
alternation and prints medians and the ratios teamexec/make and
snakemake/teamexec.  Snakemake is installed into ``bench/.venv-snakemake``
on first use; it is never a dependency of teamexec.
"""

from __future__ import annotations

import argparse
import compileall
import functools
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dags import chain, fanout, layered, write_makefile, write_session, write_snakefile  # noqa: E402

OUT = HERE / "out"
SNAKE_VENV = HERE / ".venv-snakemake"


def snakemake_bin() -> Path | None:
    exe = SNAKE_VENV / "bin" / "snakemake"
    if exe.exists():
        return exe
    print("installing snakemake into bench/.venv-snakemake ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(SNAKE_VENV)], check=True)
    pip = [str(SNAKE_VENV / "bin" / "pip"), "install", "-q", "snakemake"]
    if subprocess.run(pip).returncode != 0:
        print("snakemake could not be installed; skipping it", flush=True)
        return None
    return exe


def graph_for(shape: str, n: int) -> dict[str, list[str]]:
    if shape == "layered":
        width = max(1, round(n**0.5))
        return layered(max(1, n // width), width)
    if shape == "chain":
        return chain(n)
    return fanout(n)


def timed(command: list[str], *, cwd: Path, prepare: Callable[[], None]) -> float:
    prepare()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}: {result.stderr.decode()[-2000:]}")
    return elapsed


@functools.cache
def teamexec_bin() -> str:
    """The teamexec under test, its bytecode compiled first.

    An editable install has no .pyc files until a first run writes them, and
    none at all where PYTHONDONTWRITEBYTECODE is set (as on our CI machines):
    every run would then recompile ~40 modules, ~0.1 s that a user's
    installed teamexec never pays.
    """
    found = shutil.which(
        "teamexec", path=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    )
    if not found:
        raise SystemExit("teamexec is not installed in this environment")
    package = subprocess.run(
        [sys.executable, "-c", "import teamexec, os; print(os.path.dirname(teamexec.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    compileall.compile_dir(package, quiet=1)
    return found


def bench_case(
    shape: str, n: int, jobs: int, repeat: int, snake: Path | None, worker: str
) -> dict[str, float]:
    graph = graph_for(shape, n)
    case = OUT / f"{shape}-{len(graph)}"
    session = case / "session"
    write_makefile(case / "make", graph)
    write_snakefile(case / "snake", graph)
    runners: dict[str, tuple[list[str], Path, Callable[[], None]]] = {
        "make": (["make", f"-j{jobs}", "-s"], case / "make", lambda: None),
        "teamexec": (
            [
                teamexec_bin(),
                "run",
                str(session),
                "--max-workers",
                str(jobs),
                "--completion",
                "keep",
                "--json",
            ],
            case,
            lambda: write_session(
                session, graph, agent=["true"], worker=None if worker == "default" else worker
            ),
        ),
    }
    if snake is not None:

        def clean_snake() -> None:
            shutil.rmtree(case / "snake" / "out", ignore_errors=True)
            shutil.rmtree(case / "snake" / ".snakemake", ignore_errors=True)

        runners["snakemake"] = (
            [str(snake), f"-j{jobs}", "--quiet", "all", "--snakefile", "Snakefile"],
            case / "snake",
            clean_snake,
        )
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeat):
        for name, (command, cwd, prepare) in runners.items():  # alternate, not back to back
            samples[name].append(timed(command, cwd=cwd, prepare=prepare))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--shapes", nargs="+", default=["layered"], choices=["layered", "chain", "fanout"]
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-snakemake", action="store_true")
    parser.add_argument(
        "--worker",
        default="default",
        choices=["default", "python", "sh"],
        help="teamexec's built-in worker (default: no executor.worker key in the session)",
    )
    args = parser.parse_args()
    snake = None if args.no_snakemake else snakemake_bin()
    header = ["shape", "tasks", "-j", "make s", "teamexec s", "snakemake s"]
    print("| " + " | ".join([*header, "teamexec/make", "snakemake/teamexec"]) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in args.shapes:
        for n in args.sizes:
            med = bench_case(shape, n, args.jobs, args.repeat, snake, args.worker)
            snake_s = med.get("snakemake")
            ratio_make = med["teamexec"] / med["make"]
            ratio_snake = f"{snake_s / med['teamexec']:.2f}" if snake_s else "-"
            snake_text = f"{snake_s:.3f}" if snake_s else "-"
            cells = [shape, n, args.jobs, f"{med['make']:.3f}", f"{med['teamexec']:.3f}"]
            cells += [snake_text, f"{ratio_make:.2f}", ratio_snake]
            print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


if __name__ == "__main__":
    main()

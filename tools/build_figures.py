"""Measure and print the build figures the contributing page quotes.

Works on a temporary copy of the project, so the working tree's own build cache is untouched:

1. cold full build: nothing cached, every example executed (per-topic worker times listed);
2. rebuild with nothing changed;
3. one program changed (a comment appended to one program): only its topic may re-execute;
4. builds with execution switched off (``DOCS_EXECUTE=false``), warm and cold.

Usage::

    python tools/build_figures.py                 # print the figures
    python tools/build_figures.py --write FILE    # also write them as Markdown (machine and date in it)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
TOP_LEVEL_SKIP = {".git", ".venv", "site", ".pytest_cache"}
TARGETS = {"cold": 240, "unchanged": 10, "one program": 30, "execution off": 15}
CHANGED_PROGRAM = "snippets/minimal_loop/pytorch_minimal_loop.py"


def copy_project(target: Path) -> None:
    def ignore(folder, names):
        skip = {n for n in names if n == "__pycache__"}
        if Path(folder) == PROJECT:
            skip |= {n for n in names if n in TOP_LEVEL_SKIP}
        if Path(folder) == PROJECT / "docs":
            skip.add("generated")
        return skip

    shutil.copytree(PROJECT, target, ignore=ignore)


def build(root: Path, **env) -> tuple[float, str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCS_")}
    full_env.update(PYTHONPATH=str(root), NO_MKDOCS_2_WARNING="1", **env)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=root, env=full_env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"build failed in {root}:\n{proc.stderr[-5000:]}")
    return seconds, proc.stderr


RUN_DONE = re.compile(r"\[\d+/\d+\] (\w+): (\w+) \(([\d.]+) s\)")
"""The build's progress line for a finished run: ``[3/41] resuming: uninterrupted (4.4 s), 38 left``."""


def topics_run(log: str) -> list[str]:
    """The topics whose runs a build executed, from its progress lines."""
    return sorted({m.group(1) for m in RUN_DONE.finditer(log)})


def run_times(log: str) -> dict[str, float]:
    """Seconds of each run the build executed, longest first."""
    times = {f"{m.group(1)}: {m.group(2)}": float(m.group(3)) for m in RUN_DONE.finditer(log)}
    return dict(sorted(times.items(), key=lambda kv: -kv[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="also write the figures as Markdown to this file")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="build-figures-") as tmp:
        root = Path(tmp) / "project"
        copy_project(root)
        figures = root / "tools" / "build-figures.md"
        if not figures.exists():  # the contributing page includes it; measured figures come below
            figures.write_text("(being measured)\n")
        print("cold full build (every example executed) ...", flush=True)
        cold, log = build(root)
        per_run = run_times(log)
        rows.append(("cold full build", cold, "cold",
                     f"{len(per_run)} runs of {len(topics_run(log))} topics, two topics at a time"))
        unchanged, log = build(root)
        rows.append(("rebuild, nothing changed", unchanged, "unchanged", f"re-executed: {topics_run(log) or 'none'}"))
        program = root / CHANGED_PROGRAM
        program.write_text(program.read_text() + "\n# changed by tools/build_figures.py\n")
        one, log = build(root)
        rows.append(("one program changed", one, "one program", f"re-executed: {topics_run(log) or 'none'}"))
        off_warm, _ = build(root, DOCS_EXECUTE="false")
        rows.append(("execution off, after a full build", off_warm, "execution off", ""))
        shutil.rmtree(root / "docs" / "generated")
        off_cold, _ = build(root, DOCS_EXECUTE="false")
        rows.append(("execution off, nothing built before", off_cold, "execution off", ""))

    machine = f"{platform.node() and 'this machine'}: {os.cpu_count()} cores, {_cpu()}, Python {platform.python_version()}"
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    lines = [f"Measured by `tools/build_figures.py` on {date}, {machine}.", "",
             "| build | seconds | target | notes |", "|---|---:|---:|---|"]
    for name, seconds, target, note in rows:
        lines.append(f"| {name} | {seconds:.0f} | {TARGETS[target]} | {note} |")
    lines += ["", "Seconds of each run in the cold build, as its progress line gave them (two topics' "
              "workers overlap, and a run waiting for another's timed phase is still counting):", ""]
    lines += [f"- {name}: {seconds:.1f}" for name, seconds in per_run.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


if __name__ == "__main__":
    raise SystemExit(main())

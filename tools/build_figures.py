"""Measure and print the build figures the contributing page quotes.

Works on a temporary copy of the project, so the working tree's own build cache is untouched:

1. cold full build: nothing cached, every example executed (per-topic worker times listed);
2. rebuild with nothing changed;
3. one snippet changed (a comment appended to one program): only its topic may re-execute;
4. builds with execution switched off (``DOCS_EXECUTE=false``), warm and cold.

Usage::

    python tools/build_figures.py                 # print the figures
    python tools/build_figures.py --write FILE    # also write them as Markdown (machine and date in it)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
TOP_LEVEL_SKIP = {".git", ".venv", "site", ".pytest_cache"}  # only at the top: snippets/site is code
TARGETS = {"cold": 360, "unchanged": 20, "one snippet": 60, "execution off": 15}
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


def topics_run(log: str) -> list[str]:
    found = re.search(r"Running \d+ topic\(s\) for \d+ example\(s\), two at a time: (.*)", log)
    return found.group(1).split(", ") if found else []


def worker_times(root: Path) -> dict[str, float]:
    times = {}
    for path in (root / "docs" / "generated" / ".cache").glob("*.json"):
        report = json.loads(path.read_text())
        label = report.get("topic", path.stem)
        if report.get("bench"):
            label = f"benchmark {report['bench']}"
        elif report.get("spec", {}).get("params", {}).get("bench"):
            label = f"benchmark {report['spec']['params']['bench']}"
        times[f"{label} ({path.stem.split('-')[1][:6]})"] = report.get("worker_s", float("nan"))
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
        per_topic = worker_times(root)
        runs = re.search(r"Running (\d+) topic\(s\) for (\d+) example", log)
        rows.append(("cold full build", cold, "cold",
                     f"{runs.group(1)} worker runs for {runs.group(2)} pages, two at a time" if runs else ""))
        unchanged, log = build(root)
        rows.append(("rebuild, nothing changed", unchanged, "unchanged", f"re-executed: {topics_run(log) or 'none'}"))
        program = root / CHANGED_PROGRAM
        program.write_text(program.read_text() + "\n# changed by tools/build_figures.py\n")
        one, log = build(root)
        rows.append(("one snippet changed", one, "one snippet", f"re-executed: {topics_run(log) or 'none'}"))
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
    lines += ["", "Worker time per run in the cold build (seconds; runs overlap two at a time, "
              "and a worker waiting for another's timed phase is still counting):", ""]
    lines += [f"- {name}: {seconds:.1f}" for name, seconds in per_topic.items()]
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

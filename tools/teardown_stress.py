"""How often a multi-process topic fails by chance: its runs repeated under the build's concurrency.

Several times in December 2026 a rank of the metrics or DDP topic finished its work and then
aborted in interpreter teardown ("terminate called without an active exception"), failing the
build: a gloo process group that outlived ``destroy_process_group()`` (tools/teardown_repro.py
reduces the causes; the contributing page tells them). This tool repeats every topic whose
headline run trains in processes of its own (ranks started by torchrun: ddp, metrics),
``--rounds`` times, two topics at a time as the build runs them (one worker each), with
``PYTHONFAULTHANDLER=1`` so that a rank that dies prints its Python stack, and counts what failed
and how::

    python tools/teardown_stress.py --rounds 15
    python tools/teardown_stress.py --rounds 15 --write tools/teardown-stress.md

Nothing is stored in the build's cache. Exit code 0 when no run failed, 1 otherwise. The
contributing page quotes the figure (tools/teardown-stress.md).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evidence import declared  # noqa: E402
from evidence.programs import topics  # noqa: E402
from evidence.running import runner  # noqa: E402

SIGNATURES = {
    "teardown abort": r"terminate called without an active exception",
    "SIGABRT": r"SIGABRT|exited with -6\b|code -6\b",
    "SIGSEGV": r"SIGSEGV|exited with -11\b|code -11\b",
    "timeout": r"did not finish within its timeout",
}


def multi_process_topics() -> list[str]:
    """The topics whose headline run starts ranks in processes of their own."""
    return [t for t in topics() if not declared.run(t).in_process]


def classify(report: dict) -> str | None:
    """None for a run that succeeded, else the first signature its error text matches."""
    if "error" not in report:
        return None
    text = report["error"].get("traceback", "")
    for name, pattern in SIGNATURES.items():
        if re.search(pattern, text):
            return name
    return "other: " + (text.strip().splitlines() or ["?"])[-1][:120]


def one(topic: str) -> tuple[str, str | None, float]:
    started = time.monotonic()
    run = declared.run(topic)
    report = runner.execute(topic, [run], store=False)[run.name]
    return topic, classify(report), time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="how many times each topic runs")
    parser.add_argument("--topics", nargs="*", help="default: every multi-process topic")
    parser.add_argument("--parallel", type=int, default=2, help="topics at once (the build's concurrency here)")
    parser.add_argument("--write", help="also write the figure as Markdown to this file")
    args = parser.parse_args(argv)
    chosen = args.topics or multi_process_topics()
    os.environ["PYTHONFAULTHANDLER"] = "1"  # inherited by the worker, the programs and their ranks
    outcomes: Counter = Counter()
    seconds: list[float] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DOCS_CACHE_DIR"] = cache  # nothing read from, nothing written to the build's cache
        jobs = [t for _ in range(args.rounds) for t in chosen]
        with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
            for topic, outcome, took in pool.map(one, jobs):
                outcomes[outcome or "ok"] += 1
                seconds.append(took)
                print(f"{topic}: {outcome or 'ok'} ({took:.0f} s)", flush=True)
    total = sum(outcomes.values())
    failed = total - outcomes["ok"]
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    import torch

    text = (f"{failed} of {total} runs failed ({', '.join(chosen)}, {args.rounds} rounds each, "
            f"{args.parallel} at a time, with PYTHONFAULTHANDLER=1) on {machine}, {date}, torch "
            f"{torch.__version__}; {time.monotonic() - started:.0f} s in all.\n\n"
            "| outcome | runs |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in outcomes.most_common()))
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

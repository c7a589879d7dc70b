"""How well two builds on the same machine agree on every published per-step ratio.

Runs every topic's headline run twice, as two builds would (each time in fresh worker
processes, nothing stored in the build's cache), and compares the steady-state per-step ratios
they publish (Lightning and Fabric against plain PyTorch, `evidence.running.timing`): for each,
the two ratios, their relative difference, and whether both builds gave the same verdict
("no measurable difference" or a ratio). The contributing page quotes the result.

Usage::

    python tools/timing_agreement.py                    # every topic, print the table
    python tools/timing_agreement.py --topics minimal_loop callbacks
    python tools/timing_agreement.py --write tools/timing-agreement.md

Run it on a quiet machine: timings share the CPU with everything else running.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evidence import declared  # noqa: E402
from evidence.programs import topics  # noqa: E402
from evidence.running import runner  # noqa: E402

TARGET = 0.10
"""Two builds should agree within 10 % on every published per-step ratio."""
NOISE = "no measurable difference"


def ratios(topic_names: list[str]) -> dict[tuple[str, str], dict]:
    """One build's published per-step comparisons: ``{(topic, kind): vs_reference}``."""
    found = {}
    for topic in topic_names:
        run = declared.run(topic)
        if not run.runs_here() or not run.in_process:
            continue  # ranks in processes of their own have no per-step figure
        report = runner.execute(topic, [run], store=False)[run.name]
        if "error" in report:
            raise SystemExit(f"{topic}: {report['error']['location']}\n{report['error']['traceback'][-2000:]}")
        for kind, impl in report["implementations"].items():
            vs = impl.get("timing", {}).get("vs_reference")
            if vs:
                found[(topic, kind)] = vs
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topics", nargs="*", help="topics to measure (default: every topic)")
    parser.add_argument("--write", help="also write the figures as Markdown to this file")
    args = parser.parse_args(argv)
    chosen = args.topics or topics()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DOCS_CACHE_DIR"] = cache  # nothing read from, nothing written to the build's cache
        first = ratios(chosen)
        second = ratios(chosen)
    rows, worst, same_verdict, published = [], 0.0, 0, 0
    for key in sorted(first):
        a, b = first[key], second[key]
        diff = abs(a["ratio"] - b["ratio"]) / max(a["ratio"], b["ratio"])
        worst = max(worst, diff)
        noise = (a["verdict"] == NOISE, b["verdict"] == NOISE)
        same_verdict += noise[0] == noise[1]
        # what the pages publish agrees: both "no measurable difference" (no ratio shown), or both
        # a ratio, within TARGET of each other
        agree = all(noise) or (not any(noise) and diff <= TARGET)
        published += agree
        rows.append(f"| {key[0]} | {key[1]} | {shown(a)} | {shown(b)} | {100 * diff:.1f} % |"
                    f" {'yes' if agree else '**no**'} |")
    within = sum(1 for key in first if abs(first[key]["ratio"] - second[key]["ratio"])
                 / max(first[key]["ratio"], second[key]["ratio"]) <= TARGET)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    text = (f"Two builds' per-step ratios on {machine}, {date}: what the pages publish agrees in {published} of "
            f"{len(first)} (both builds a ratio, within {100 * TARGET:.0f} % of each other, or both no measurable "
            f"difference); the ratios themselves within {100 * TARGET:.0f} % in {within} of {len(first)} (largest "
            f"difference {100 * worst:.1f} %); the same verdict (a ratio, or no measurable difference) in "
            f"{same_verdict} of {len(first)}.\n\n"
            "| topic | implementation | first build | second build | difference | published agrees |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0 if published == len(first) else 1


def shown(vs: dict) -> str:
    """A build's comparison as the table shows it: the ratio and its interval, and the verdict
    where it is no measurable difference (the pages then publish the interval, not the ratio)."""
    text = f"{vs['ratio']:.2f}× ({vs['low']:.2f}–{vs['high']:.2f})"
    return text + ", no measurable difference" if vs["verdict"] == NOISE else text


if __name__ == "__main__":
    raise SystemExit(main())

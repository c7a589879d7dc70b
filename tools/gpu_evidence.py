"""Record GPU evidence: every topic's declared runs on CUDA, written to one results file.

On a machine with a CUDA GPU this executes, in the site's own worker processes:

* every declared run of every topic with ``device="cuda"`` (runs that pin a device, such as the
  two-process DDP runs on gloo, keep theirs), the GPU-only variants (``needs = ["cuda"]``: fp16
  with a gradient scaler) included, and ``torch.compile`` on CUDA with it;
* the overhead benchmark,

and writes one JSON file naming the GPU, driver, CUDA, torch and Lightning versions and the date,
summarising each run: parity verdict and value, time per step, peak CUDA memory, errors. Commit
the file under ``evidence/recorded/gpu/``; the site shows it beside its own (CPU) figures.

``--dry-run`` takes the same code path on the CPU, for testing; its file is labelled
``"dry_run": true`` and the site never reads it.

Usage::

    python tools/gpu_evidence.py                       # on the GPU machine
    python tools/gpu_evidence.py --dry-run --topics minimal_loop --out /tmp/dry.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from evidence import declared  # noqa: E402  (the project root is put on the path above)
from evidence.recorded import GPU_DIR, KIND  # noqa: E402
from evidence.running import runner  # noqa: E402


def machine(device: str) -> dict:
    """The environment stamp of this machine, with the GPU's driver and CUDA versions."""
    import torch

    from evidence.running.environment import stamp

    env = stamp(1)
    env["device"] = device
    if device == "cuda":
        env["device_name"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        try:
            env["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                           capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            env["driver"] = "unknown"
    return env


def on_device(run: declared.Run, device: str) -> declared.Run:
    """The run on ``device``, unless it pins a device of its own."""
    if "device" in run.params:
        return run
    return dataclasses.replace(run, params={**run.params, "device": device})


def summarise(report: dict) -> dict:
    """What the site shows of a run: parity, time per step, peak memory, or the error."""
    if "error" in report:
        return {"error": report["error"]["location"],
                "error_line": report["error"]["traceback"].strip().splitlines()[-1][:300]}
    if "implementations" not in report:  # a benchmark
        return {key: report[key] for key in ("bench", "config", "basis", "sizes", "crossover", "all_identical")
                if key in report}
    implementations = {}
    for kind, impl in report["implementations"].items():
        timing = impl.get("timing", {})
        implementations[kind] = {"device": impl.get("device"), "steps": impl.get("steps"),
                                 "per_step_ms": timing.get("per_step_ms"), "median_s": timing.get("median_s"),
                                 "runs": timing.get("runs", 0), "startup_s": timing.get("startup_s"),
                                 "vs_reference": timing.get("vs_reference"),
                                 "peak_memory_bytes": impl.get("memory", {}).get("bytes"),
                                 "memory_kind": impl.get("memory", {}).get("kind")}
    parity = report.get("parity")
    return {"parity": None if parity is None else {k: parity[k] for k in ("verdict", "metric", "value", "tolerance")},
            "implementations": implementations}


def record(device: str, topics: list[str], benchmark: bool, progress=print) -> dict:
    """Execute the runs on ``device`` in a fresh result cache; return the results file's content."""
    results: dict[str, dict] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpu-evidence-") as cache:
        os.environ["DOCS_CACHE_DIR"] = cache
        for topic in topics:
            runs = [on_device(r, device) for r in declared.runs(topic)]
            skipped = [r for r in runs if not r.runs_here()]
            todo = [r for r in runs if r.runs_here()]
            results[topic] = {r.name: {"skipped": "needs a CUDA GPU"} for r in skipped}
            if todo:
                reports = runner.execute(topic, todo, on_done=lambda r, rep, s: progress(
                    f"{topic}: {r.name} ({'FAILED' if 'error' in rep else f'{s:.1f} s'})"))
                results[topic].update({name: summarise(rep) for name, rep in reports.items()})
        benchmarks = {}
        if benchmark:
            run = declared.run("benchmarks", "overhead")
            report = runner.execute("benchmarks", [run])["overhead"]
            benchmarks["overhead"] = summarise(report)
            progress(f"benchmarks: overhead ({'FAILED' if 'error' in report else 'done'})")
    return {"kind": KIND, "dry_run": device != "cuda", "environment": machine(device),
            "seconds": round(time.monotonic() - started, 1), "topics": results, "benchmarks": benchmarks}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the same code path on the CPU (never published)")
    parser.add_argument("--topics", nargs="*", help="only these topics (default: every topic)")
    parser.add_argument("--no-benchmark", action="store_true", help="leave out the overhead benchmark")
    parser.add_argument("--out", type=Path, help="where to write (default: evidence/recorded/gpu/<date>-<gpu>.json)")
    args = parser.parse_args(argv)
    import torch

    from evidence.programs import topics as all_topics

    if not args.dry_run and not torch.cuda.is_available():
        print("error: no CUDA GPU here; use --dry-run to try the script on the CPU", file=sys.stderr)
        return 2
    if args.dry_run and args.out is None:
        print("error: a dry run is never written under evidence/recorded/; give --out", file=sys.stderr)
        return 2
    topics = args.topics or all_topics()
    unknown = sorted(set(topics) - set(all_topics()))
    if unknown:
        print(f"error: unknown topic(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    data = record("cpu" if args.dry_run else "cuda", topics, not args.no_benchmark)
    env = data["environment"]
    if args.out is None:
        slug = re.sub(r"[^a-z0-9]+", "-", env["device_name"].lower()).strip("-")
        args.out = GPU_DIR / f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d}-{slug}.json"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, allow_nan=False, default=str))
    failed = [f"{t}:{r}" for t, runs in data["topics"].items() for r, v in runs.items() if "error" in v]
    print(f"wrote {args.out} ({data['seconds']:.0f} s, {len(failed)} failed run(s){': ' + ', '.join(failed) if failed else ''})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run one topic's implementations in a fresh process: logs, parity, memory and timings.

Started by `evidence.running.runner.execute` as
``python -m evidence.running.worker JOB.json RESULTS_DIR`` (or forked by its fork server). One process per topic keeps
topics from sharing global state (seeds, thread counts, warning filters, CUDA memory).

Phases, in order: a logged run of each implementation, with what the harness gathers around it
(`evidence.running.gather`); the headline run once more under the call recorder (in rank 0's
process for programs that start ranks of their own: `evidence.running.rank_trace`); parity of
their results; one run of each under the memory probe; then ``repeats`` timed rounds that alternate the order of the
implementations, each call's optimizer steps stamped (`evidence.running.timing`). All but the timed phase hold a shared lock; the timed phase holds it
exclusively, so timings never overlap another topic's work when topics run in parallel.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from evidence.running import gather, measure, policy, rank_trace, timing, trace
from evidence.running.environment import stamp
from evidence.programs import programs


@contextlib.contextmanager
def phase_lock(path: str | None, exclusive: bool, waiting_flag: str | None = None):
    """Hold the build-wide timing lock: shared for untimed work, exclusive for timed work.

    Workers running in parallel may overlap in their untimed phases; a timed phase waits
    until no other worker is doing anything and keeps them waiting until it ends. While a
    worker waits, ``waiting_flag`` exists, and the runner does not count that time against
    the worker's timeout (a hanging topic must not make the others time out).
    """
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    if not path:
        yield
        return
    with open(path, "a") as handle:
        if waiting_flag:
            Path(waiting_flag).touch()
        try:
            fcntl.flock(handle, mode)
        finally:
            if waiting_flag:
                Path(waiting_flag).unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ProgramFailed(Exception):
    """A program raised; carries the file and line where it happened."""

    def __init__(self, kind: str, path: Path, roots: list[str]):
        tb = sys.exc_info()[2]
        frames = [f for f in traceback.extract_tb(tb) if Path(f.filename).resolve() == path.resolve()]
        where = f"{path}:{frames[-1].lineno}" if frames else str(path)
        self.location = measure.sanitize(where, roots)
        self.text = measure.sanitize(traceback.format_exc(), roots)
        super().__init__(f"{kind} program failed at {self.location}")


RESERVED_KEYS = ("label", "file", "loc", "log", "first_run_s", "memory", "times_s", "timing", "trainer_kwargs",
                 "weights")

WEIGHTS_BUDGET = 200_000
"""Largest number of values of the final weights kept in a report (``weights``), for checks across runs."""


def _size(state: dict) -> int:
    return sum(getattr(v, "numel", lambda: 0)() for v in state.values())
"""Keys of an implementation's report that the harness fills; a program's result may not use them."""


def _jsonable(value):
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return repr(value)


def say_doing(spec: dict, doing: str, program=None) -> None:
    """Tell the runner what this worker is doing now, so that a crash (a signal, the kernel's
    out-of-memory killer) can be reported with the program and the phase."""
    if not spec.get("doing"):
        return
    info = {"doing": f"{doing} of run {spec['run']!r}"}
    if program is not None:
        info["program"] = measure.sanitize(str(program.path), spec.get("roots", []))
    Path(spec["doing"]).write_text(json.dumps(info))


def limit_memory() -> None:
    """Cap this worker's heap at ``DOCS_WORKER_MEMORY_GB`` (default 8; 0 for none), so a runaway
    allocation fails as a Python ``MemoryError`` naming its line instead of reaching the
    kernel's out-of-memory killer. Not on a CUDA machine, whose driver maps memory of its own."""
    import resource

    limit = float(os.environ.get("DOCS_WORKER_MEMORY_GB", "8"))
    if limit <= 0 or os.path.exists("/dev/nvidia0") or not hasattr(resource, "RLIMIT_DATA"):
        return
    cap = int(limit * 2**30)
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))


def run_spec(spec: dict) -> dict:
    """Run the topic described by ``spec`` and return its JSON-ready report."""
    import torch

    started = time.perf_counter()
    policy.apply()
    torch.set_num_threads(spec.get("threads", 1))
    roots = spec.get("roots", [])
    params = spec.get("params", {})
    found = programs(spec["topic"])
    device = "cuda" if torch.cuda.is_available() and params.get("device", "auto") in ("auto", "cuda") else "cpu"

    modules, reports, results = {}, {}, {}
    with phase_lock(spec.get("lock"), exclusive=False, waiting_flag=spec.get("waiting_flag")):
        for program in found:
            modules[program.kind] = importlib.import_module(program.module)
        # after the imports: Lightning attaches its log handlers when it is first imported
        policy.apply()
        measure.route_library_logging()
        # 1. the logged run: what a reader sees when running the program
        for program in found:
            kwargs = {**params, **spec.get("overrides", {}).get(program.kind, {})}
            say_doing(spec, f"the {program.label} program's logged run", program)
            with measure.captured_output() as log, gather.Watch() as watch:
                try:
                    result, first = measure.timed(modules[program.kind].run, verbose=True,
                                                  sync_cuda=device == "cuda", **kwargs)
                except Exception as error:
                    raise ProgramFailed(program.kind, program.path, roots) from error
            clash = sorted(set(result) & set(RESERVED_KEYS))
            if clash:
                raise ValueError(f"{program.path.name}: run() returned {clash}, which the harness reserves "
                                 f"for its own measurements ({', '.join(RESERVED_KEYS)}); rename them")
            result = gather.normalise(result, watch, device)
            arguments = gather.call_arguments(modules[program.kind].run, kwargs)
            result.update(gather.gather(spec.get("gather", {}), arguments, Path.cwd()))
            results[program.kind] = result
            reports[program.kind] = {
                "label": program.label, "file": program.path.name,
                "log": policy.strip_adverts(measure.sanitize(log.getvalue(), roots)), "first_run_s": first,
                "steps": int(result.get("steps", 0)), "device": str(result.get("device", device)),
                **({"trainer_kwargs": watch.trainer_kwargs} if watch.trainer_kwargs is not None else {}),
                **{k: _jsonable(v) for k, v in result.items() if k not in ("state_dict", "steps", "device")},
            }
            if isinstance(result.get("state_dict"), dict) and _size(result["state_dict"]) <= WEIGHTS_BUDGET:
                # the final weights, kept so that declared checks can compare them across runs
                reports[program.kind]["weights"] = _jsonable(result["state_dict"])
        # 1b. the headline run once more, recorded call by call (evidence.running.trace), untimed;
        # its final weights must equal the logged run's: recording changes nothing
        recorders = {}

        def keep(program, recorder, traced, **extra):
            recorders[program.kind] = recorder
            reports[program.kind]["trace"] = {
                **recorder.report(), **extra,
                "recording_changed_result": measure.max_abs_difference(results[program.kind].get("state_dict"),
                                                                       traced.get("state_dict"))}

        if spec.get("trace"):
            for program in found:
                kwargs = {**params, **spec.get("overrides", {}).get(program.kind, {})}
                reference = recorders.get(found[0].kind)
                say_doing(spec, f"the {program.label} program's recorded run", program)
                with measure.captured_output(), trace.Recorder(program.path, reference=reference,
                                                               keep_snapshots=reference is None) as recorder:
                    traced = gather.normalise(modules[program.kind].run(verbose=False, **kwargs), None, device)
                keep(program, recorder, traced)
                del traced
        elif spec.get("trace_rank") == 0:
            with tempfile.TemporaryDirectory(prefix="rank-trace-") as tmp:
                folders = {program.kind: Path(tmp) / program.kind for program in found}
                for program in found:
                    kwargs = {**params, **spec.get("overrides", {}).get(program.kind, {})}
                    reference = folders[found[0].kind] if program.kind != found[0].kind else None
                    say_doing(spec, f"the {program.label} program's recorded run (rank 0)", program)
                    with measure.captured_output(), rank_trace.recording(program.path, folders[program.kind],
                                                                         reference):
                        traced = gather.normalise(modules[program.kind].run(verbose=False, **kwargs), None, device)
                    recorder = rank_trace.read(folders[program.kind])
                    if recorder is None:
                        continue  # its ranks were not started as processes running the program (no RANK 0)
                    keep(program, recorder, traced, rank=0)
                    del traced
        # 2. parity against the reference (plain PyTorch when present)
        reference = found[0].kind
        tolerance = float(spec.get("tolerance", 0.0))
        checks = []
        for path in spec.get("compare", ["state_dict"]):
            for program in found[1:]:
                value = measure.max_abs_difference(measure.lookup(results[reference], path),
                                                   measure.lookup(results[program.kind], path))
                checks.append({"metric": path, "pair": [reference, program.kind], "value": value,
                               "verdict": measure.verdict(value, tolerance)})
        del results
        gc.collect()
        # 3. memory, one run each (not for programs that train in processes of their own: the
        # probe measures this process)
        for program in found if spec.get("memory", True) else []:
            kwargs = {**params, **spec.get("overrides", {}).get(program.kind, {})}
            say_doing(spec, f"the {program.label} program's run under the memory probe", program)
            with measure.captured_output(), measure.peak_memory(device) as memory:
                modules[program.kind].run(verbose=False, **kwargs)
            reports[program.kind]["memory"] = memory

    # 4. timings, alternating the order each round, alone on the machine: every call's optimizer
    # steps stamped by the same global hook (evidence.running.timing), the programs untouched
    # (a run of few steps gets more rounds than it declares: timing.rounds_needed)
    repeats = int(spec.get("repeats", 5))
    rounds: dict[str, list[dict]] = {p.kind: [] for p in found}
    if repeats > 0:
        with phase_lock(spec.get("lock"), exclusive=True, waiting_flag=spec.get("waiting_flag")):
            round_, wanted = 0, repeats
            while round_ < wanted:
                order = found[round_ % len(found):] + found[:round_ % len(found)]
                for program in order:
                    kwargs = {**params, **spec.get("overrides", {}).get(program.kind, {})}
                    say_doing(spec, f"the {program.label} program's timed round {round_ + 1}", program)
                    with measure.captured_output(), timing.StepClock(cuda=device == "cuda") as clock:
                        modules[program.kind].run(verbose=False, **kwargs)
                    rounds[program.kind].append(clock.phases())
                if round_ == 0:
                    wanted = timing.rounds_needed(repeats, min(len(r[0].get("step_s", [])) for r in rounds.values()))
                round_ += 1
    for program in found:
        report = reports[program.kind]
        report["times_s"] = [r["total_s"] for r in rounds[program.kind]]
        if rounds[program.kind]:
            report["timing"] = timing.summarize(rounds[program.kind])
            if program.kind != found[0].kind:
                report["timing"]["vs_reference"] = timing.compare(rounds[program.kind], rounds[found[0].kind])

    ledger = None
    if recorders and found[0].kind in recorders:
        ledger = {kind: {"steps": len(r.ledger), "first_divergence": r.first_divergence}
                  for kind, r in recorders.items() if kind != reference}
        firsts = [(d["step"], kind, d) for kind, info in ledger.items() if (d := info["first_divergence"])]
        first = min(firsts, key=lambda x: x[0]) if firsts else None
        ledger = {"steps": len(recorders[reference].ledger), "implementations": ledger,
                  "first_divergence": None if first is None else {**first[2], "pair": [reference, first[1]]}}
    headline = checks[0] if checks else None
    worst = max(checks, key=lambda c: c["value"]) if checks else None
    parity = None
    if headline is not None:
        same_metric = [c for c in checks if c["metric"] == headline["metric"]]
        value = max(c["value"] for c in same_metric)
        parity = {"reference": reference, "metric": headline["metric"], "value": value,
                  "tolerance": tolerance, "verdict": measure.verdict(value, tolerance),
                  "worst": worst, "checks": checks,
                  "all_pass": all(c["verdict"] != "differs" for c in checks), "ledger": ledger}
    return {"topic": spec["topic"], "run": spec["run"], "environment": stamp(spec.get("threads", 1)),
            "implementations": reports, "parity": parity,
            "worker_s": time.perf_counter() - started}


def serve(run_one, argv: list[str] | None = None) -> int:
    """The worker protocol: run every spec of the job with ``run_one``, one result file each.

    ``run_one(spec) -> dict`` gets each run's spec with the job's ``lock``, ``roots`` and
    ``waiting_flag`` added. An exception with ``location`` and ``text`` attributes (such as
    `ProgramFailed`) reports where a program failed; any other is a harness error.
    The first failure is written in place of its run's result and ends the job.
    """
    job_path, out_dir = (argv if argv is not None else sys.argv[1:])[:2]
    job = json.loads(Path(job_path).read_text())
    shared = {k: job.get(k) for k in ("lock", "roots", "waiting_flag", "doing")}
    for spec in job["runs"]:
        try:
            report = run_one({**spec, **shared})
            report["spec"] = spec  # the run as declared, without this machine's paths
        except Exception as error:
            location = getattr(error, "location", None) or "harness"
            text = getattr(error, "text", None) or measure.sanitize(traceback.format_exc(), shared["roots"] or [])
            report = {"topic": spec["topic"], "run": spec["run"], "error": {"location": location, "traceback": text}}
        target = Path(out_dir) / f"{spec['run']}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=1, allow_nan=True))
        tmp.replace(target)
        if "error" in report:
            return 1
    return 0


if __name__ == "__main__":
    import faulthandler

    faulthandler.enable()  # a crash in native code still prints the Python stack to stderr (kept by the runner)
    limit_memory()
    raise SystemExit(serve(run_spec))

"""The benchmark worker: ``python -m evidence.benchmarks.worker JOB.json RESULTS_DIR``.

Started by `evidence.running.runner.execute` for the runs ``evidence/benchmarks/runs.toml``
declares (its ``worker = "evidence.benchmarks.worker"``), in a fresh process.
``spec["params"]["bench"]`` names the benchmark (``overhead``, ``defaults``,
``startup``, ``parity_workload``) and ``spec["params"]["config"]`` its size (``quick`` unless
given; ``full`` for a published site; ``tiny`` for the tests). Untimed work holds the build's
timing lock shared, timed work holds it exclusively, as `evidence.running.worker` does.

Every timed run returns its final weights; each is compared with the plain PyTorch weights of
the same round, and the report records every comparison (the pages assert them).
"""

from __future__ import annotations

import gc
import hashlib
import os
import subprocess
import sys
import time
import traceback

from evidence.benchmarks import analysis
from evidence.benchmarks import workloads as wl
from evidence.running import measure, policy
from evidence.running.environment import stamp
from evidence.running.worker import phase_lock, serve

# (width, batches per epoch, epochs, warm-up steps, rounds) per model size: more steps and
# rounds where a step is short and the overhead is measured against little work
SWEEPS = {
    "tiny": {"sizes": [(8, 6, 2, 2, 2), (32, 4, 2, 1, 2)]},
    "quick": {"sizes": [(16, 30, 2, 6, 5), (128, 15, 2, 3, 4), (512, 4, 2, 1, 3), (2048, 2, 2, 1, 2)]},
    "full": {"sizes": [(16, 100, 3, 10, 21), (64, 100, 3, 10, 15), (256, 50, 3, 5, 11), (512, 30, 3, 3, 11),
                       (1024, 15, 3, 2, 11), (2048, 8, 3, 2, 9), (4096, 4, 3, 1, 7)]},
}
DEFAULTS = {
    "tiny": {"workload": (8, 50, 1, 5, 2), "rounds": 1},
    "quick": {"workload": (16, 40, 1, 5, 2), "rounds": 7},
    "full": {"workload": (16, 100, 3, 10, 10), "rounds": 15},
}
STARTUP = {"tiny": {"imports": 1, "rounds": 2}, "quick": {"imports": 1, "rounds": 3},
           "full": {"imports": 7, "rounds": 15}}
PARITY = {"tiny": {"num_runs": 2, "num_epochs": 1}, "quick": {"num_runs": 3, "num_epochs": 4},
          "full": {"num_runs": 11, "num_epochs": 4}}
"""Lightning's test uses ``num_runs=3, num_epochs=4`` for ``ParityModuleRNN`` (the quick setting)."""

IMPORTS = {"torch": "torch", "Fabric": "lightning_fabric", "Lightning": "pytorch_lightning"}


def _digest(weights: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(weights):
        h.update(name.encode())
        h.update(weights[name].contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _check(reference: dict, weights: dict, pair: list[str], **where) -> dict:
    value = measure.max_abs_difference(reference, weights)
    return {"pair": pair, **where, "max_abs_difference": value, "identical": value == 0.0,
            "digest": [_digest(reference), _digest(weights)]}


class Runs:
    """Runs entries in alternating order and checks every result against the reference's."""

    def __init__(self, device: str, lock: str | None):
        self.device = device
        self.lock = lock
        self.checks: list[dict] = []

    def call(self, name: str, fn):
        cpu = time.process_time()
        with measure.captured_output():
            (weights, clock), seconds = measure.timed(fn, sync_cuda=self.device == "cuda")
        summary = clock.summary()
        summary["run_s"], summary["run_cpu_s"] = seconds, time.process_time() - cpu
        return weights, summary

    def rounds(self, entries: list[tuple[str, object]], rounds: int, reference: str = "pytorch",
               **where) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {name: [] for name, _ in entries}
        for r in range(rounds):
            order = entries[r % len(entries):] + entries[:r % len(entries)]
            weights = {}
            with phase_lock(self.lock, exclusive=True):
                for name, fn in order:
                    weights[name], summary = self.call(name, fn)
                    out[name].append(summary)
            for name, _ in entries:
                if name != reference:
                    self.checks.append(_check(weights[reference], weights[name], [reference, name], round=r, **where))
            del weights
            gc.collect()
        return out


def basis(device: str) -> str:
    """The clock the headline numbers use: CPU time of the process on a CPU, wall-clock on CUDA.

    On CUDA the process waits for the GPU, so its CPU time says nothing; on a CPU shared with
    other jobs, wall-clock adds the time spent waiting for a core. Both are always recorded.
    """
    return "cpu" if device == "cpu" else "wall"


def _key(phase: str, device: str) -> str:
    return f"{phase}_cpu_s" if basis(device) == "cpu" else f"{phase}_s"


def _memory(device: str, fn) -> int:
    with measure.captured_output(), measure.peak_memory(device) as memory:
        fn()
    return memory["bytes"]


# -- benchmarks ---------------------------------------------------------------------------------

def bench_overhead(config: str, spec: dict, device: str) -> dict:
    """Per-step time of plain PyTorch, Lightning (matched settings) and Fabric across model sizes."""
    setting = SWEEPS[config]
    runs = Runs(device, spec.get("lock"))
    sizes = []
    for width, batches, epochs, warmup, rounds in setting["sizes"]:
        w = wl.Workload(width=width, batches=batches, epochs=epochs, warmup=warmup)
        short = w.short()
        entries = [(kind, (lambda f=f, w=w: f(w, device))) for kind, f in wl.RUNNERS.items()]
        memory = {}
        with phase_lock(spec.get("lock"), exclusive=False):
            if not sizes:  # warm-up of the process (lazy imports, first allocations): dropped
                for kind, f in wl.RUNNERS.items():
                    with measure.captured_output():
                        f(short, device)
            for kind, f in wl.RUNNERS.items():  # the memory runs, untimed, also warm up each size
                memory[kind] = _memory(device, lambda f=f: f(short, device))
        measured = runs.rounds(entries, rounds, size=width)
        per_step = {k: [r[_key("per_step", device)] for r in v] for k, v in measured.items()}
        sizes.append({
            "workload": w.as_dict(), "memory_bytes": memory, "memory_steps": short.steps,
            "per_step_ms": {k: analysis.spread([1000 * t for t in v]) for k, v in per_step.items()},
            "per_step_wall_ms": {k: analysis.spread([1000 * r["per_step_s"] for r in v]) for k, v in measured.items()},
            "overhead": {k: analysis.paired_overhead(per_step["pytorch"], per_step[k]) for k in ("lightning", "fabric")},
            "rounds": rounds, "runs": measured})
    params = [s["workload"]["parameters"] for s in sizes]
    crossovers = {kind: {str(t): analysis.crossover(params, [s["overhead"][kind]["pct"]["median"] for s in sizes], t)
                         for t in (5.0, 1.0)} for kind in ("lightning", "fabric")}
    return {"rounds": [s["rounds"] for s in sizes], "sizes": sizes, "crossover": crossovers, "checks": runs.checks,
            "memory_kind": "cuda max_memory_allocated" if device == "cuda" else "peak RSS growth"}


def bench_defaults(config: str, spec: dict, device: str) -> dict:
    """Lightning with default, barebones and matched settings, and each default feature alone."""
    setting = DEFAULTS[config]
    rounds = setting["rounds"]
    width, batches, epochs, warmup, val_batches = setting["workload"]
    w = wl.Workload(width=width, batches=batches, epochs=epochs, warmup=warmup, val_batches=val_batches)
    entries = [("pytorch", lambda: wl.run_pytorch(w, device)), ("fabric", lambda: wl.run_fabric(w, device))]
    entries += [(f"lightning:{v}", (lambda v=v: wl.run_lightning(w, device, v))) for v in wl.VARIANTS]
    with phase_lock(spec.get("lock"), exclusive=False):
        log = {}
        for name, fn in entries:  # warm-up, dropped; keep what a default Trainer prints
            with measure.captured_output() as out:
                fn()
            if name in ("lightning:default", "lightning:barebones"):
                log[name] = measure.sanitize(out.getvalue(), spec.get("roots", []))
        with measure.captured_output():
            parts = {v: wl.trainer_parts(v, device) for v in ("default", "matched", "barebones")}
    runs = Runs(device, spec.get("lock"))
    measured = runs.rounds(entries, rounds)
    per_step = {k: [r[_key("per_step", device)] for r in v] for k, v in measured.items()}
    run_s = {k: [r[_key("run", device)] for r in v] for k, v in measured.items()}

    def cost(base: str, name: str) -> dict:
        return {"per_step": analysis.paired_overhead(per_step[base], per_step[name]),
                "run": analysis.paired_overhead(run_s[base], run_s[name])}

    versus_pytorch = {name: cost("pytorch", name) for name, _ in entries if name != "pytorch"}
    features = {v: cost("lightning:matched", f"lightning:{v}")
                for v in wl.VARIANTS if v not in ("matched", "default", "barebones")}
    return {"rounds": rounds, "workload": w.as_dict(), "variants": {v: {"what": d["what"], "trainer": {
                k: val for k, val in d["trainer"].items()}, "log": d["log"], "rich": bool(d.get("rich"))}
                for v, d in wl.VARIANTS.items()},
            "per_step_ms": {k: analysis.spread([1000 * t for t in v]) for k, v in per_step.items()},
            "run_s": {k: analysis.spread(v) for k, v in run_s.items()},
            "per_step_wall_ms": {k: analysis.spread([1000 * r["per_step_s"] for r in v]) for k, v in measured.items()},
            "versus_pytorch": versus_pytorch, "features": features, "checks": runs.checks, "runs": measured,
            "logs": log, "trainer_parts": parts}


def _import_seconds(module: str) -> float:
    code = (f"import time; t, c = time.perf_counter(), time.process_time(); import {module}; "
            f"print(time.perf_counter() - t, time.process_time() - c)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{proc.stderr[-2000:]}")
    wall, cpu = map(float, proc.stdout.strip().splitlines()[-1].split())
    return {"wall": wall, "cpu": cpu}


def bench_startup(config: str, spec: dict, device: str) -> dict:
    """Import time in fresh interpreters, Trainer/Fabric construction, and the first steps of a run."""
    import pytorch_lightning as pl
    from lightning_fabric import Fabric

    setting = STARTUP[config]
    lock = spec.get("lock")
    names = list(IMPORTS)
    imports = {n: [] for n in names}
    with phase_lock(lock, exclusive=True):
        for r in range(setting["imports"]):
            for n in names[r % len(names):] + names[:r % len(names)]:
                imports[n].append(_import_seconds(IMPORTS[n]))
    accelerator = "gpu" if device == "cuda" else "cpu"
    builders = {"Trainer (matched settings)": lambda: pl.Trainer(accelerator=accelerator, devices=1, **wl.MATCHED),
                "Trainer()": lambda: pl.Trainer(accelerator=accelerator, devices=1),
                "Fabric": lambda: Fabric(accelerator="cuda" if device == "cuda" else "cpu", devices=1)}
    construct = {n: [] for n in builders}
    with phase_lock(lock, exclusive=False), measure.captured_output():
        for b in builders.values():
            b()
    with phase_lock(lock, exclusive=True), measure.captured_output(), wl._quiet_lightning():
        for r in range(setting["rounds"]):
            for n, b in builders.items():
                start, cpu = time.perf_counter(), time.process_time()
                b()
                construct[n].append({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu})
    # the first steps of a run: the tiny model of the sweep, a short run
    w = wl.Workload(width=16, batches=12, epochs=1, warmup=4)
    first_in_process = {}
    with phase_lock(lock, exclusive=False):
        runs = Runs(device, lock)
        for kind, f in wl.RUNNERS.items():
            _, first_in_process[kind] = runs.call(kind, lambda f=f: f(w, device))
    measured = runs.rounds([(k, (lambda f=f: f(w, device))) for k, f in wl.RUNNERS.items()], setting["rounds"])
    phases = ("construct", "to_first_step", "first_step", "per_step", "run")
    b = basis(device)
    return {"imports_s": {n: analysis.spread([x[b] for x in v]) for n, v in imports.items()},
            "imports_wall_s": {n: analysis.spread([x["wall"] for x in v]) for n, v in imports.items()},
            "import_modules": IMPORTS, "import_runs": imports,
            "construct_s": {n: analysis.spread([x[b] for x in v]) for n, v in construct.items()},
            "construct_wall_s": {n: analysis.spread([x["wall"] for x in v]) for n, v in construct.items()},
            "workload": w.as_dict(), "rounds": setting["rounds"],
            "phases_s": {k: {p: analysis.spread([r[_key(p, device)] for r in v]) for p in phases}
                         for k, v in measured.items()},
            "phases_wall_s": {k: {p: analysis.spread([r[f"{p}_s"] for r in v]) for p in phases}
                              for k, v in measured.items()},
            "first_in_process": first_in_process, "checks": runs.checks}


def bench_parity_workload(config: str, spec: dict, device: str) -> dict:
    """Lightning's ``test_pytorch_parity`` for ``ParityModuleRNN``, with alternating order."""
    setting = PARITY[config]
    num_runs, num_epochs = setting["num_runs"], setting["num_epochs"]
    lock = spec.get("lock")
    loops = {"lightning": wl.parity_lightning_loop, "pytorch": wl.parity_vanilla_loop}
    durations = {k: [] for k in loops}
    durations_wall = {k: [] for k in loops}
    losses = {k: [] for k in loops}
    checks = []
    for idx in range(num_runs):
        order = list(loops) if idx % 2 == 0 else list(loops)[::-1]
        weights = {}
        with phase_lock(lock, exclusive=True):
            for kind in order:
                gc.collect()
                if device == "cuda":
                    import torch

                    torch.cuda.empty_cache()
                cpu = time.process_time()
                with measure.captured_output():
                    (loss, weights[kind]), seconds = measure.timed(loops[kind], idx, device, num_epochs,
                                                                  sync_cuda=device == "cuda")
                cpu = time.process_time() - cpu
                durations[kind].append(cpu if basis(device) == "cpu" else seconds)
                durations_wall[kind].append(seconds)
                losses[kind].append(loss)
        checks.append(_check(weights["pytorch"], weights["lightning"], ["pytorch", "lightning"], run=idx))
    memory = {k: [] for k in loops}
    with phase_lock(lock, exclusive=False):
        for kind in ("pytorch", "lightning", "pytorch", "lightning"):
            memory[kind].append(_memory(device, lambda kind=kind: loops[kind](1, device, num_epochs)))
    speed = analysis.parity_speed(durations["lightning"][1:], durations["pytorch"][1:], num_epochs)
    mem = analysis.parity_memory(memory["lightning"], memory["pytorch"])
    return {"num_runs": num_runs, "num_epochs": num_epochs, "durations_s": durations,
            "durations_wall_s": durations_wall, "losses": losses,
            "speed_wall": analysis.parity_speed(durations_wall["lightning"][1:], durations_wall["pytorch"][1:],
                                                num_epochs),
            "losses_equal_5_decimals": all(round(a, 5) == round(b, 5) for a, b in
                                           zip(losses["lightning"], losses["pytorch"])),
            "memory_bytes": memory, "memory_kind": "cuda max_memory_allocated" if device == "cuda" else "peak RSS growth",
            "speed": speed, "memory": mem, "checks": checks}


BENCHES = {"overhead": bench_overhead, "defaults": bench_defaults, "startup": bench_startup,
           "parity_workload": bench_parity_workload}


def run_spec(spec: dict) -> dict:
    import torch

    started = time.perf_counter()
    policy.apply()
    threads = int(spec.get("threads", 1))
    torch.set_num_threads(threads)
    params = spec.get("params", {})
    # DOCS_BENCHMARK is part of every cache key (evidence/running/runner.py), so the same spec
    # in quick and full mode never shares a result
    bench, config = params["bench"], params.get("config") or os.environ.get("DOCS_BENCHMARK", "quick")
    if bench not in BENCHES:
        raise KeyError(f"unknown benchmark {bench!r}; known: {', '.join(BENCHES)}")
    if config not in SWEEPS:
        raise KeyError(f"unknown configuration {config!r}; known: {', '.join(SWEEPS)}")
    with phase_lock(spec.get("lock"), exclusive=False):
        import lightning_fabric  # noqa: F401
        import pytorch_lightning  # noqa: F401
    policy.apply()  # after the imports: Lightning attaches its log handlers when first imported
    measure.route_library_logging()
    device = wl.device_name()
    result = BENCHES[bench](config, spec, device)
    checks = result.get("checks", [])
    return {"topic": spec["topic"], "bench": bench, "config": config, "device": device, "basis": basis(device),
            "environment": stamp(threads), "spec": spec,
            **result, "all_identical": bool(checks) and all(c["identical"] for c in checks),
            "worker_s": time.perf_counter() - started}


class BenchmarkFailed(Exception):
    """A benchmark raised; names the benchmark file and line where it happened."""

    def __init__(self, roots: list[str]):
        tb = sys.exc_info()[2]
        frames = [f for f in traceback.extract_tb(tb) if "evidence/benchmarks" in f.filename.replace(os.sep, "/")]
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "evidence/benchmarks/worker.py"
        self.location = measure.sanitize(where, roots) + f" ({sys.exc_info()[0].__name__})"
        self.text = measure.sanitize(traceback.format_exc(), roots)
        super().__init__(self.location)


def run_one(spec: dict) -> dict:
    """`run_spec`, with a failure located in the benchmark code."""
    try:
        return run_spec(spec)
    except Exception as error:
        raise BenchmarkFailed(spec.get("roots") or []) from error


if __name__ == "__main__":
    raise SystemExit(serve(run_one))

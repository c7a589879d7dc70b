"""Run a topic in its own process, with a timeout, and reuse results whose inputs have not changed.

Gallery scripts call :func:`run_topic`. The MkDocs hooks call :func:`prefetch` first, to run
the topics that need it two at a time; the gallery scripts then find their results ready.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from snippets.harness.environment import fingerprint
from snippets.harness.programs import SNIPPETS_DIR, programs

HARNESS_DIR = Path(__file__).resolve().parent
PROJECT_DIR = SNIPPETS_DIR.parent

DEFAULT_TIMEOUT_S = 300
"""Seconds one topic may run before it is stopped (``DOCS_EXAMPLE_TIMEOUT`` overrides)."""


class TopicError(RuntimeError):
    """A topic could not be run: a program raised, or it ran past its timeout."""


def cache_dir() -> Path:
    """Where results are kept between builds (``DOCS_CACHE_DIR``, else a per-user cache)."""
    configured = os.environ.get("DOCS_CACHE_DIR")
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "torch-vs-lightning-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def timeout_s() -> float:
    """The per-topic timeout in seconds (``DOCS_EXAMPLE_TIMEOUT``, default 300)."""
    return float(os.environ.get("DOCS_EXAMPLE_TIMEOUT", DEFAULT_TIMEOUT_S))


DEFAULT_WORKER = "snippets.harness.worker"


def make_spec(topic: str, params: dict | None = None, compare=("state_dict",), tolerance: float = 0.0,
              repeats: int = 5, threads: int = 1, overrides: dict | None = None,
              worker: str | None = None) -> dict:
    """The complete description of one topic run; its hash names the cached result.

    ``worker`` names another worker module (run as ``python -m <worker> SPEC RESULT``, writing
    a JSON report, with an ``"error"`` key on failure); the benchmarks use their own.
    """
    spec = {"topic": topic, "params": dict(params or {}), "compare": list(compare),
            "tolerance": float(tolerance), "repeats": int(repeats), "threads": int(threads),
            "overrides": dict(overrides or {})}
    if worker and worker != DEFAULT_WORKER:
        spec["worker"] = worker
    return spec


def _files_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(set(paths)):
        digest.update(path.relative_to(PROJECT_DIR).as_posix().encode() if path.is_relative_to(PROJECT_DIR)
                      else path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def topic_inputs(topic: str) -> list[Path]:
    """Every file a topic's results depend on: its folder and the harness."""
    folder = SNIPPETS_DIR / topic
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    files += [p for p in HARNESS_DIR.glob("*.py")]
    return files


SETTINGS = ("DOCS_BENCHMARK",)
"""Environment variables that change what a run measures, hence part of every inputs digest."""


def inputs_digest(topics: list[str], extra: list[Path] = ()) -> str:
    """A hash of the named topics' inputs, the environment fingerprint and any extra files."""
    files = [f for t in topics for f in topic_inputs(t)] + [Path(p) for p in extra]
    digest = hashlib.sha256(_files_digest(files).encode())
    digest.update(json.dumps(fingerprint(), sort_keys=True).encode())
    digest.update(json.dumps({k: os.environ.get(k) for k in SETTINGS}).encode())
    return digest.hexdigest()


def spec_key(spec: dict) -> str:
    """Cache key, ``<spec hash>-<inputs hash>``: the run asked for, and everything it depends on."""
    asked = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    return f"{asked}-{inputs_digest([spec['topic']])[:12]}"


def _wait(proc: subprocess.Popen, timeout: float, waiting: Path) -> bool:
    """Wait for ``proc``; kill it after ``timeout`` seconds of its own work.

    Time spent waiting for another worker's timed phase (while ``waiting`` exists) is not
    counted. Returns False when the process was killed.
    """
    used, step = 0.0, 0.2
    while proc.poll() is None:
        time.sleep(step)
        if not waiting.exists():
            used += step
        if used > timeout:
            proc.kill()
            proc.wait()
            return False
    return True


def execute(spec: dict, timeout: float | None = None) -> dict:
    """Run ``spec`` in a fresh worker process and return its report (or its error)."""
    timeout = timeout_s() if timeout is None else timeout
    worker = spec.get("worker", DEFAULT_WORKER)
    if worker == DEFAULT_WORKER:
        programs(spec["topic"])  # fail here, clearly, if the topic has no program
    full = {**spec, "lock": str(cache_dir() / "timing.lock"),
            "roots": [str(PROJECT_DIR), os.getcwd()]}
    with tempfile.TemporaryDirectory(prefix=f"topic-{spec['topic']}-") as work:
        spec_file, out_file = Path(work) / "spec.json", Path(work) / "result.json"
        waiting = Path(work) / "waiting-for-lock"
        spec_file.write_text(json.dumps({**full, "waiting_flag": str(waiting)}))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_DIR)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
        with open(Path(work) / "stderr.txt", "w+") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", worker, str(spec_file), str(out_file)],
                                    cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            try:
                finished = _wait(proc, timeout, waiting)
            except BaseException:  # e.g. the example's own timeout, or Ctrl-C: leave no orphan
                proc.kill()
                proc.wait()
                raise
            if not finished:
                return {"topic": spec["topic"], "error": {
                    "location": "timeout",
                    "traceback": f"topic {spec['topic']!r} did not finish within its timeout of {timeout:g} s "
                                 f"and was stopped (set DOCS_EXAMPLE_TIMEOUT to change the limit)"}}
            stderr.seek(0)
            errors = stderr.read()
        if not out_file.exists():
            return {"topic": spec["topic"], "error": {
                "location": "worker",
                "traceback": f"the worker for topic {spec['topic']!r} exited with code {proc.returncode} "
                             f"and wrote no result:\n{errors[-4000:]}"}}
        report = json.loads(out_file.read_text())
        if "spec" in report:  # the worker echoes its spec file; publish the run as asked, without
            report["spec"] = spec  # this machine's lock, roots and flag paths
        return report


_FAILURES: dict[str, dict] = {}
"""Failed reports of this process, so a failure prefetched in a build is not run again by the
gallery in the same build. Kept in memory only: a fixed program changes the key, and a new
process (the next ``mkdocs build``) tries again."""


def run_spec(spec: dict, timeout: float | None = None) -> dict:
    """Return the report for ``spec``: from the cache when its inputs are unchanged, else run it."""
    key = spec_key(spec)
    path = cache_dir() / f"{spec['topic']}-{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    if key in _FAILURES:
        return _FAILURES[key]
    report = execute(spec, timeout)
    if "error" in report:
        _FAILURES[key] = report
        return report
    for stale in cache_dir().glob(f"{spec['topic']}-{key.split('-')[0]}-*.json"):
        stale.unlink()
    path.write_text(json.dumps(report, allow_nan=True))
    return report


def prefetch(specs: list[dict], workers: int | None = None) -> list[dict]:
    """Run several specs in parallel (two at a time on two cores); timed phases still run alone."""
    workers = workers or max(1, min(len(specs), (os.cpu_count() or 1)))

    def safe(spec: dict) -> dict:
        try:
            return run_spec(spec)
        except Exception as error:  # reported again, with its page, when the gallery runs the spec
            return {"topic": spec["topic"], "error": {"location": "harness", "traceback": repr(error)}}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(safe, specs))

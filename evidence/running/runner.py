"""Execute declared runs in worker processes and keep their results while their inputs hold.

The build calls `execute_stale` before any page runs: every declared run whose result
is missing for its current inputs is executed, one worker process per topic (the topic's
stale runs in order, so the imports are paid once), two topics at a time. Pages then read
results with `result`, which executes a run only if the build did not (a page run on
its own, or a run that failed earlier in this process).

A result is cached under ``<cache>/<topic>/<run>-<key>.json``, where the key hashes the run's
declaration and its inputs: the topic's folder (its ``runs.toml`` aside: a run's declaration
is hashed on its own, so editing one variant re-runs only that one), the running machinery,
the worker's package, the installed versions and device, and ``DOCS_BENCHMARK``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evidence import declared
from evidence.declared import Run
from evidence.programs import PROJECT_DIR, SNIPPETS_DIR
from evidence.running import forkserver
from evidence.running.environment import fingerprint

RUNNING_DIR = Path(__file__).resolve().parent
MACHINERY_INPUTS = sorted(RUNNING_DIR.glob("*.py")) + [PROJECT_DIR / "evidence" / "programs.py"]
"""Machinery files every result depends on: the worker, the measurements, the policy, the line
counts. (How ``runs.toml`` is read is not among them: a run's declaration is hashed as read.)"""

DEFAULT_TIMEOUT_S = 300
"""Seconds one run may take before its worker is stopped (``DOCS_EXAMPLE_TIMEOUT`` overrides)."""

SETTINGS = ("DOCS_BENCHMARK",)
"""Environment variables that change what a run measures, hence part of every key."""

log = logging.getLogger("mkdocs.evidence")


class TopicError(RuntimeError):
    """A run could not produce a result: a program raised, or it ran past its timeout."""


def cache_dir() -> Path:
    """Where results are kept between builds: ``DOCS_CACHE_DIR``, else ``docs/generated/.cache``
    (build output, git-ignored). The build and the tests read the same place."""
    configured = os.environ.get("DOCS_CACHE_DIR")
    path = Path(configured) if configured else PROJECT_DIR / "docs" / "generated" / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def timeout_s() -> float:
    """The per-run timeout in seconds (``DOCS_EXAMPLE_TIMEOUT``, default 300)."""
    return float(os.environ.get("DOCS_EXAMPLE_TIMEOUT", DEFAULT_TIMEOUT_S))


# -- keys -----------------------------------------------------------------------------------

_FILE_DIGESTS: dict[tuple, str] = {}


def files_digest(paths: list[Path]) -> str:
    """A hash of the files' names (relative to the project) and contents.

    Computed once per process and state of the files (their sizes and times): a build asks for
    the same files' hash for every run key and every matrix shard."""
    files = sorted(set(paths))
    memo = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    if memo not in _FILE_DIGESTS:
        digest = hashlib.sha256()
        for path in files:
            name = path.relative_to(PROJECT_DIR).as_posix() if path.is_relative_to(PROJECT_DIR) else path.name
            digest.update(name.encode())
            digest.update(path.read_bytes())
        _FILE_DIGESTS[memo] = digest.hexdigest()
    return _FILE_DIGESTS[memo]


def topic_inputs(topic: str) -> list[Path]:
    """Every file a topic's results depend on.

    For a reader topic, every file of its folder but ``runs.toml``; for a machinery topic
    (the benchmarks, the API-changes page), the modules its worker runs: every ``.py`` file
    of its folder but ``views.py``, which renders and does not run. Then the running machinery.
    """
    folder = declared.folder(topic)
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and p.name != declared.RUNS_FILE and p.suffix != ".pyc"]
    if not folder.is_relative_to(SNIPPETS_DIR):
        files = [p for p in files if p.suffix == ".py" and p.name != "views.py" and p.parent == folder]
    return files + MACHINERY_INPUTS


def inputs_digest(topic: str) -> str:
    """A hash of ``topic``'s inputs (`files_digest`), the environment fingerprint and the
    settings."""
    digest = hashlib.sha256(files_digest(topic_inputs(topic)).encode())
    digest.update(json.dumps(fingerprint(), sort_keys=True).encode())
    digest.update(json.dumps({k: os.environ.get(k) for k in SETTINGS}).encode())
    return digest.hexdigest()


def run_key(run: Run) -> str:
    """``<declaration hash>-<inputs hash>``: the run asked for, and everything it depends on."""
    asked = hashlib.sha256(json.dumps(run.spec(), sort_keys=True).encode()).hexdigest()[:12]
    return f"{asked}-{inputs_digest(run.topic)[:12]}"


def result_path(run: Run) -> Path:
    return cache_dir() / run.topic / f"{run.name}-{run_key(run)}.json"


def stored(run: Run) -> dict | None:
    """The stored result of ``run`` for its current inputs, or None."""
    path = result_path(run)
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    os.utime(path)  # used: the newest versions are the ones kept
    return report


KEEP_VERSIONS = 4
"""Results kept per run: the newest few, so that switching between branches (or worktrees
sharing one cache) finds its results again instead of executing them."""


def _store(run: Run, report: dict) -> None:
    path = result_path(run)
    _write(path, report)
    versions = sorted((p for p in path.parent.glob(f"{run.name}-*.json") if not p.name.endswith(".failed.json")),
                      key=_mtime, reverse=True)
    for old in versions[KEEP_VERSIONS:]:
        old.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile by another build sharing the cache
        return 0.0


# -- one worker per topic ---------------------------------------------------------------------

def failure_path(run: Run) -> Path:
    """Where a failed run's report is kept until the next build tries the run again."""
    return cache_dir() / run.topic / f"{run.name}-{run_key(run)}.failed.json"


def _write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, allow_nan=True))
    tmp.replace(path)


def _store_failure(run: Run, report: dict) -> None:
    """Keep a failed run's report in the store, so a page of the same build shows it instead of
    running the program again; `forget_failures` removes it when the next build starts."""
    _write(failure_path(run), report)


def _error(run: Run, location: str, text: str) -> dict:
    return {"topic": run.topic, "run": run.name, "error": {"location": location, "traceback": text}}


def _wait(proc, result_file: Path, timeout: float, waiting: Path) -> str:
    """Wait until ``result_file`` appears (``"done"``), the worker exits (``"exited"``), or the
    run has used ``timeout`` seconds (``"timeout"``: the worker is killed).

    Time spent while ``waiting`` exists (the worker waits for another worker's timed phase)
    is not counted.
    """
    used, step = 0.0, 0.1
    while True:
        if result_file.exists():
            return "done"
        if proc.poll() is not None:
            return "done" if result_file.exists() else "exited"
        time.sleep(step)
        if not waiting.exists():
            used += step
        if used > timeout:
            proc.kill()
            proc.wait()
            return "timeout"


def execute(topic: str, runs: list[Run], timeout: float | None = None, on_done=None,
            python: str | None = None, store: bool = True) -> dict[str, dict]:
    """Execute ``runs`` of ``topic`` in order in one fresh worker process; store each result.

    Each run gets ``timeout`` seconds of the worker's own work (time spent waiting for another
    worker's timed phase is not counted). ``on_done(run, report, seconds)`` is called as each
    run finishes. Returns the reports by run name; a failed run's report has an ``"error"``,
    and the runs after it are reported as not run. ``python`` runs the worker with another
    interpreter (an environment with another Lightning version: then ``store=False``, since the
    result keys describe this environment).
    """
    timeout = timeout_s() if timeout is None else timeout
    worker = runs[0].worker
    if worker == declared.DEFAULT_WORKER:
        from evidence.programs import programs

        programs(topic)  # fail here, clearly, if the topic has no program
    reports: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix=f"topic-{topic}-") as work:
        work = Path(work)
        out, waiting = work / "results", work / "waiting-for-lock"
        out.mkdir()
        (work / "job.json").write_text(json.dumps({
            "topic": topic, "runs": [r.spec() for r in runs], "lock": str(cache_dir() / "timing.lock"),
            "roots": [str(PROJECT_DIR), os.getcwd(), str(work)], "waiting_flag": str(waiting)}))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_DIR)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
        with open(work / "stderr.txt", "w+") as stderr:
            if python is None and forkserver.enabled():
                proc = forkserver.server().start([worker, str(work / "job.json"), str(out)], cwd=str(work), env=env,
                                                 stderr_path=str(work / "stderr.txt"))
            else:
                proc = subprocess.Popen([python or sys.executable, "-m", worker, str(work / "job.json"), str(out)],
                                        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            try:
                for run in runs:
                    begun = time.monotonic()
                    outcome = _wait(proc, out / f"{run.name}.json", timeout, waiting)
                    if outcome == "timeout":
                        reports[run.name] = _error(
                            run, "timeout", f"run {run.name!r} of topic {topic!r} did not finish within its "
                            f"timeout of {timeout:g} s and was stopped (set DOCS_EXAMPLE_TIMEOUT to change the limit)")
                    elif outcome == "done":
                        reports[run.name] = {"run": run.name, **json.loads((out / f"{run.name}.json").read_text())}
                    else:
                        break  # the worker exited without this run's result
                    if on_done:
                        on_done(run, reports[run.name], time.monotonic() - begun)
                    if "error" in reports[run.name]:
                        break
                proc.wait()
            except BaseException:  # Ctrl-C, or a page's own timeout: leave no orphan
                proc.kill()
                proc.wait()
                raise
            stderr.seek(0)
            errors = stderr.read()
    for run in runs:
        if run.name in reports:
            continue
        failed = next((r for r in reports.values() if "error" in r), None)
        reason = (f"not run: run {failed['run']!r} of the same topic failed first" if failed else
                  f"the worker for topic {topic!r} exited with code {proc.returncode} before writing the result "
                  f"of run {run.name!r}:\n{errors[-4000:]}")
        reports[run.name] = _error(run, "worker", reason)
    for run in runs if store else []:
        report = reports[run.name]
        if "error" in report:
            _store_failure(run, report)
        else:
            _store(run, report)
            failure_path(run).unlink(missing_ok=True)
    return reports


def stale(topics: list[str] | None = None) -> dict[str, list[Run]]:
    """The declared runs without a stored result for their current inputs, by topic."""
    found = {}
    for topic in topics if topics is not None else list(declared.folders()):
        missing = [run for run in declared.runs(topic) if run.runs_here() and not result_path(run).exists()]
        if missing:
            found[topic] = missing
    return found


def execute_stale(topics: list[str] | None = None, parallel: int | None = None) -> dict[str, float]:
    """Execute every stale declared run, one worker per topic, ``parallel`` topics at a time.

    Progress is logged as each run finishes (n of N, topic and run, seconds, what is left).
    Returns the seconds each topic's worker took. Failures are kept for `result`, which
    raises them where a page asks for the run.
    """
    todo = stale(topics)
    total = sum(len(r) for r in todo.values())
    if not total:
        return {}
    parallel = parallel or max(1, min(len(todo), os.cpu_count() or 1))
    log.info("Executing %d run(s) of %d topic(s), %d at a time", total, len(todo), parallel)
    counter = {"done": 0}
    lock = threading.Lock()
    started = time.monotonic()

    def report(run: Run, result: dict, seconds: float) -> None:
        with lock:
            counter["done"] += 1
            status = "FAILED" if "error" in result else f"{seconds:.1f} s"
            log.info("[%d/%d] %s: %s (%s), %d left", counter["done"], total, run.topic, run.name, status,
                     total - counter["done"])

    def one(topic: str) -> tuple[str, float]:
        begun = time.monotonic()
        try:
            execute(topic, todo[topic], on_done=report)
        except Exception as error:  # reported again, with its page, when a page asks for the run
            for run in todo[topic]:
                if not result_path(run).exists() and not failure_path(run).exists():
                    _store_failure(run, _error(run, "harness", repr(error)))
        return topic, time.monotonic() - begun

    # the longest topics first, so the last worker standing is a short one
    order = sorted(todo, key=lambda t: -sum(1 + r.repeats for r in todo[t]))
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        seconds = dict(pool.map(one, order))
    log.info("Executed %d run(s) in %.0f s; per topic: %s", total, time.monotonic() - started,
             ", ".join(f"{t} {s:.0f} s" for t, s in sorted(seconds.items(), key=lambda kv: -kv[1])))
    return seconds


def failures(topics: list[str] | None = None) -> list[dict]:
    """The failed reports kept in the store for the declared runs' current inputs."""
    found = []
    for topic in topics if topics is not None else list(declared.folders()):
        for run in declared.runs(topic):
            path = failure_path(run)
            if path.exists():
                found.append(json.loads(path.read_text()))
    return found


def forget_failures() -> None:
    """Let the next request of a failed run execute it again (a new build starts)."""
    for topic in declared.folders():
        for path in (cache_dir() / topic).glob("*.failed.json"):
            path.unlink(missing_ok=True)


def result(run: Run) -> dict:
    """The report of ``run``: stored, or failed earlier in this build, or executed now."""
    report = stored(run)
    if report is not None:
        return report
    if failure_path(run).exists():
        return json.loads(failure_path(run).read_text())
    missing = [r for r in declared.runs(run.topic)
               if r.runs_here() and not result_path(r).exists() and not failure_path(r).exists()]
    return execute(run.topic, missing or [run])[run.name]

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
from evidence.running import forkserver, processes
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
    return files + declared.extra_inputs(topic) + MACHINERY_INPUTS


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
    """The stored result of ``run`` for its current inputs, or None.

    An entry that is not whole (unreadable, not JSON, its checksum or its shape wrong) is
    reported by path and topic, removed and treated as missing: the run executes again."""
    path = result_path(run)
    try:
        report = read_entry(path)
    except FileNotFoundError:
        return None
    except DamagedEntry as error:
        # reported, never fatal (a strict build counts warnings): the run simply executes again
        log.info("Discarded a damaged result of run %r of topic %r (%s): %s; it runs again",
                 run.name, run.topic, path, error)
        path.unlink(missing_ok=True)
        return None
    return report


class DamagedEntry(ValueError):
    """A stored entry that is not what `_write` wrote."""


def _digest(report: dict) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True, allow_nan=True).encode()).hexdigest()


def read_entry(path: Path) -> dict:
    """A stored entry, checked against the checksum `_write` put beside it.

    Raises:
        FileNotFoundError: there is none.
        DamagedEntry: it is truncated, not JSON, altered, or not a run's report.
    """
    try:
        entry = json.loads(path.read_bytes().decode())
    except (UnicodeDecodeError, ValueError) as error:
        raise DamagedEntry(f"not a JSON entry ({type(error).__name__})") from None
    if not isinstance(entry, dict) or set(entry) != {"sha256", "report"} or not isinstance(entry["report"], dict):
        raise DamagedEntry("not an entry of this store")
    if _digest(entry["report"]) != entry["sha256"]:
        raise DamagedEntry("its checksum does not match its content")
    report = entry["report"]
    if "topic" not in report or "run" not in report:
        raise DamagedEntry("not a run's report")
    return report


def entry_digest(run: Run) -> str | None:
    """The checksum of ``run``'s stored result (a page records what it rendered), or None."""
    try:
        return json.loads(result_path(run).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


KEEP_VERSIONS = 4
"""Results kept per run: the newest few written, so that switching between branches (or
worktrees sharing one cache) finds its results again instead of executing them. Reading a
result changes nothing on disk: the cache sits under docs/, which `mkdocs serve` watches."""


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
    """Write ``report`` with its checksum to a temporary file, then rename it into place: a
    reader sees the old entry or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps({"sha256": _digest(report), "report": report}, allow_nan=True))
    tmp.replace(path)


def _store_failure(run: Run, report: dict) -> None:
    """Keep a failed run's report in the store, so a page of the same build shows it instead of
    running the program again; `forget_failures` removes it when the next build starts."""
    _write(failure_path(run), report)


def _error(run: Run, location: str, text: str) -> dict:
    return {"topic": run.topic, "run": run.name, "error": {"location": location, "traceback": text}}


def _wait(proc, result_file: Path, timeout: float, waiting: Path, stop: threading.Event | None = None) -> str:
    """Wait until ``result_file`` appears (``"done"``), the worker exits (``"exited"``), or the
    run has used ``timeout`` seconds (``"timeout"``: the worker is killed).

    Time spent while ``waiting`` exists (the worker waits for another worker's timed phase)
    is not counted. When ``stop`` is set (Ctrl-C), the worker is killed (``"interrupted"``).
    """
    used, step = 0.0, 0.1
    while True:
        if result_file.exists():
            return "done"
        if stop is not None and stop.is_set():
            processes.kill_tree(proc.pid)
            proc.wait()
            return "interrupted"
        if proc.poll() is not None:
            return "done" if result_file.exists() else "exited"
        time.sleep(step)
        if not waiting.exists():
            used += step
        if used > timeout:
            processes.kill_tree(proc.pid)
            proc.wait()
            return "timeout"


def execute(topic: str, runs: list[Run], timeout: float | None = None, on_done=None,
            python: str | None = None, store: bool = True, stop: threading.Event | None = None) -> dict[str, dict]:
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
        work_files = {"doing": work / "doing.json"}
        (work / "job.json").write_text(json.dumps({
            "topic": topic, "runs": [r.spec() for r in runs], "lock": str(lock_path("timing")),
            "roots": [str(PROJECT_DIR), os.getcwd(), str(work)], "waiting_flag": str(waiting),
            "doing": str(work_files["doing"])}))
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
                    outcome = _wait(proc, out / f"{run.name}.json", timeout, waiting, stop)
                    if outcome == "interrupted":
                        raise KeyboardInterrupt
                    if outcome == "timeout":
                        reports[run.name] = _error(
                            run, "timeout", f"run {run.name!r} of topic {topic!r} did not finish within its "
                            f"timeout of {timeout:g} s and was stopped (set DOCS_EXAMPLE_TIMEOUT to change the limit)")
                    elif outcome == "done":
                        reports[run.name] = {"run": run.name, **json.loads((out / f"{run.name}.json").read_text())}
                        if store and "error" not in reports[run.name]:
                            _store(run, reports[run.name])  # kept at once: an interrupt loses nothing finished
                            failure_path(run).unlink(missing_ok=True)
                    else:
                        break  # the worker exited without this run's result
                    if on_done:
                        on_done(run, reports[run.name], time.monotonic() - begun)
                    if "error" in reports[run.name]:
                        break
                proc.wait()
            except BaseException:  # Ctrl-C, or a page's own timeout: leave no orphan
                processes.kill_tree(proc.pid)
                proc.wait()
                raise
            stderr.seek(0)
            errors = stderr.read()
        doing = _doing(work_files["doing"])
    for run in runs:
        if run.name in reports:
            continue
        failed = next((r for r in reports.values() if "error" in r), None)
        if failed:
            reports[run.name] = _error(run, "worker", f"not run: run {failed['run']!r} of the same topic failed first")
            continue
        reason = (f"the worker for topic {topic!r} {exit_description(proc.returncode)} while "
                  f"{doing.get('doing', 'it ran')}, before writing the result of run {run.name!r}.\n"
                  f"{crash_excerpt(errors)}")
        reports[run.name] = _error(run, doing.get("program", "worker"), reason)
        if on_done:
            on_done(run, reports[run.name], 0.0)
        failed = reports[run.name]
    for run in runs if store else []:
        if "error" in reports[run.name]:
            _store_failure(run, reports[run.name])
    return reports


def crash_excerpt(errors: str, limit: int = 4000) -> str:
    """What a crashed worker wrote last: faulthandler's report (the Python stack of every thread,
    without its list of extension modules) where there is one, else the tail of its output."""
    start = errors.rfind("Fatal Python error")
    if start >= 0:
        report = errors[start:].split("\nExtension modules:", 1)[0]
        return "Python stack at the crash (faulthandler):\n" + report[:limit].rstrip()
    return "Last lines of its output:\n" + (errors[-limit:].rstrip() or "(nothing)")


def exit_description(code: int | None) -> str:
    """How a worker ended, in words: ``was killed by SIGKILL (perhaps for memory)``."""
    import signal

    from evidence.running.forkserver import LOST

    if code is None or code == LOST:
        return "ended without reporting how (its fork server was gone)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = {"SIGKILL": " (perhaps for memory: the kernel's out-of-memory killer sends it)",
               "SIGABRT": " (an abort, often from C++ code such as a library's teardown)",
               "SIGSEGV": " (a segmentation fault in native code)"}.get(name, "")
        return f"was killed by {name}{why}"
    return f"exited with code {code}"


def _doing(path: Path) -> dict:
    """What the worker said it was doing last, and in which program (``evidence.running.worker``
    writes it before each call of a program); empty when it said nothing."""
    try:
        found = json.loads(path.read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def stale(topics: list[str] | None = None) -> dict[str, list[Run]]:
    """The declared runs without a stored result for their current inputs, by topic."""
    found = {}
    for topic in topics if topics is not None else list(declared.folders()):
        missing = [run for run in declared.runs(topic) if run.runs_here() and stored(run) is None]
        if missing:
            found[topic] = missing
    return found


def execute_stale(topics: list[str] | None = None, parallel: int | None = None) -> dict[str, float]:
    """Execute every stale declared run, one worker per topic, ``parallel`` topics at a time.

    Progress is logged as each run finishes (n of N, topic and run, seconds, what is left).
    Returns the seconds each topic's worker took. Failures are kept for `result`, which
    raises them where a page asks for the run.
    """
    with build_lock():
        todo = stale(topics)  # after the lock: what another build stored meanwhile is not stale
        total = sum(len(r) for r in todo.values())
        if not total:
            return {}
        return _execute_all(todo, total, parallel)


def lock_path(name: str) -> Path:
    """A lock file of this cache, kept outside it (in the temporary folder): opening a file under
    docs/ would wake `mkdocs serve`'s watcher, and so another build."""
    key = hashlib.sha256(str(cache_dir().resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"evidence-{key}-{name}.lock"


def build_lock():
    """An exclusive lock on the result store while stale runs execute: a second build on the same
    cache waits, then finds the first one's results instead of running the same runs."""
    import contextlib
    import fcntl

    @contextlib.contextmanager
    def held():
        path = lock_path("build")
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("Another build is executing runs on this cache (%s); waiting for it", cache_dir())
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return held()


def _execute_all(todo: dict[str, list[Run]], total: int, parallel: int | None) -> dict[str, float]:
    parallel = parallel or max(1, min(len(todo), os.cpu_count() or 1))
    log.info("Executing %d run(s) of %d topic(s), %d at a time", total, len(todo), parallel)
    counter = {"done": 0}
    lock = threading.Lock()
    started = time.monotonic()
    stop = threading.Event()

    def report(run: Run, result: dict, seconds: float) -> None:
        with lock:
            counter["done"] += 1
            status = f"FAILED at {result['error']['location']}" if "error" in result else f"{seconds:.1f} s"
            log.info("[%d/%d] %s: %s (%s), %d left", counter["done"], total, run.topic, run.name, status,
                     total - counter["done"])

    def one(topic: str) -> tuple[str, float]:
        begun = time.monotonic()
        try:
            execute(topic, todo[topic], on_done=report, stop=stop)
        except KeyboardInterrupt:
            pass  # the main thread stops the build; what finished is stored
        except Exception as error:  # reported again, with its page, when a page asks for the run
            for run in todo[topic]:
                if not result_path(run).exists() and not failure_path(run).exists():
                    _store_failure(run, _error(run, "harness", repr(error)))
        return topic, time.monotonic() - begun

    # the longest topics first, so the last worker standing is a short one
    order = sorted(todo, key=lambda t: -sum(1 + r.repeats for r in todo[t]))
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        seconds = dict(pool.map(one, order))
    except KeyboardInterrupt:
        stop.set()  # every worker is killed at its next poll; finished runs are already stored
        pool.shutdown(wait=True, cancel_futures=True)
        log.warning("Interrupted: %d of %d run(s) finished and are kept; the next build runs the rest",
                    counter["done"], total)
        raise
    pool.shutdown()
    log.info("Executed %d run(s) in %.0f s; per topic: %s", total, time.monotonic() - started,
             ", ".join(f"{t} {s:.0f} s" for t, s in sorted(seconds.items(), key=lambda kv: -kv[1])))
    return seconds


def failures(topics: list[str] | None = None) -> list[dict]:
    """The failed reports kept in the store for the declared runs' current inputs."""
    found = []
    for topic in topics if topics is not None else list(declared.folders()):
        for run in declared.runs(topic):
            try:
                found.append(read_entry(failure_path(run)))
            except (FileNotFoundError, DamagedEntry):
                pass
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
    try:
        return read_entry(failure_path(run))
    except (FileNotFoundError, DamagedEntry):
        pass
    missing = [r for r in declared.runs(run.topic)
               if r.runs_here() and not result_path(r).exists() and not failure_path(r).exists()]
    return execute(run.topic, missing or [run])[run.name]

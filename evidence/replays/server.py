"""Runs replay programs in one interpreter: imports torch and pytorch_lightning once, then forks
a child per program.

Started by `evidence.replays.run` as ``<python> server.py`` in the interpreter of the release
under test (the pinned environment or a matrix environment), with ``{"stamp": <path of
evidence/running/environment.py>, "jobs": [{"id", "path", "timeout_s"}, ...]}`` on its standard
input. It first writes the environment stamp as its interpreter sees it (one JSON line,
``{"stamp": ...}``). Then for each job, in order, it forks: the child
starts its own process group, sends its standard output and error to a log file, works in a
fresh temporary folder, imports the program from its folder (as ``replay`` or ``workaround``, so
``ddp_spawn`` workers can import it again by that name) and calls its ``run()``. Each job's
record is written as one JSON line on the server's standard output as soon as the job ends:

- ``status``: ``ran`` (``values`` holds what ``run()`` returned), ``raised`` (``error``: the
  exception's last line, ``location``: the deepest line of the program's own file on the
  traceback), ``crashed`` (killed by a signal or gone without a record) or ``timeout`` (killed,
  with every process it started, after ``timeout_s``);
- ``log``: the tail of what the program printed (standard output and error together);
- ``seconds``: the program's time, import and ``run()`` included.

Standard library only at module level: ``multiprocessing``'s spawn method imports this file
again in every worker a replay starts.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

LOG_TAIL_LINES = 40
LOG_TAIL_CHARS = 4000


def tail(text: str) -> str:
    """The last `LOG_TAIL_LINES` lines (at most `LOG_TAIL_CHARS` characters) of a log."""
    lines = text.rstrip().splitlines()[-LOG_TAIL_LINES:]
    cut = "\n".join(lines)
    return cut[-LOG_TAIL_CHARS:]


def _location(tb, path: str) -> str:
    frames = traceback.extract_tb(tb)
    own = [f for f in frames if os.path.abspath(f.filename) == os.path.abspath(path)]
    frame = (own or frames)[-1] if (own or frames) else None
    return f"{os.path.basename(frame.filename)}:{frame.lineno}" if frame else os.path.basename(path)


def _child(job: dict, work: str, log_path: str, record_path: str) -> None:
    """In the forked child: run one program and write its record; never returns."""
    code = 0
    try:
        os.setpgid(0, 0)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.chdir(work)
        path = job["path"]
        folder, stem = os.path.dirname(os.path.abspath(path)), os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, folder)
        sys.argv = [path]
        started = time.perf_counter()
        try:
            module = importlib.import_module(stem)
            values = module.run()
            if not isinstance(values, dict):
                raise TypeError(f"run() returned {type(values).__name__}, not a dict")
            record = {"status": "ran", "values": json.loads(json.dumps(values, allow_nan=True))}
        except BaseException as error:  # noqa: BLE001  (any exception is the program's result)
            lines = traceback.format_exception_only(type(error), error)
            record = {"status": "raised", "error": lines[-1].strip()[:500] if lines else type(error).__name__,
                      "location": _location(error.__traceback__, path)}
        record["seconds"] = round(time.perf_counter() - started, 3)
        sys.stdout.flush()
        sys.stderr.flush()
        tmp = record_path + ".tmp"
        with open(tmp, "w") as out:
            json.dump(record, out, allow_nan=True)
        os.replace(tmp, record_path)
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


def run_job(job: dict) -> dict:
    """Fork a child for one program, wait for it (at most ``timeout_s``) and return its record."""
    work = tempfile.mkdtemp(prefix="replay-")
    log_path, record_path = os.path.join(work, ".log"), os.path.join(work, ".record.json")
    run_dir = os.path.join(work, "run")
    os.mkdir(run_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(job, run_dir, log_path, record_path)
    status, timed_out = None, False
    try:
        while status is None:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = raw
            elif time.monotonic() - started > job.get("timeout_s", 120):
                timed_out = True
                _kill_group(pid)
                _, status = os.waitpid(pid, 0)
            else:
                time.sleep(0.02)
    finally:
        _kill_group(pid)  # whatever the program started and left running, or all of it if we are stopped
    try:
        with open(log_path, errors="replace") as f:
            log = tail(f.read())
    except OSError:
        log = ""
    try:
        with open(record_path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        seconds = round(time.monotonic() - started, 3)
        if timed_out:
            record = {"status": "timeout", "error": f"still running after {job.get('timeout_s', 120)} s: killed",
                      "seconds": seconds}
        elif os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            record = {"status": "crashed", "error": f"killed by {name}", "seconds": seconds}
        else:
            record = {"status": "crashed", "error": f"exited with code {os.waitstatus_to_exitcode(status)} "
                                                    "before writing its result", "seconds": seconds}
    shutil.rmtree(work, ignore_errors=True)
    record["log"] = log
    return record


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _stamp(path: str) -> dict:
    """``evidence.running.environment.stamp`` as this interpreter sees it, loaded from its file
    (standard library only) rather than through the ``evidence`` package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_replay_environment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.stamp(1)


def _stopped(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through run_job, which kills the running program's group


def main() -> int:
    signal.signal(signal.SIGTERM, _stopped)
    order = json.loads(sys.stdin.read())
    protocol = os.fdopen(os.dup(1), "w")  # records only; anything else printed goes to stderr
    os.dup2(2, 1)
    import torch
    import pytorch_lightning  # noqa: F401  (imported once, before the children fork)

    torch.set_num_threads(1)  # one thread: no thread pool is running when the children fork
    protocol.write(json.dumps({"stamp": _stamp(order["stamp"])}) + "\n")
    protocol.flush()
    for job in order["jobs"]:
        record = run_job(job)
        record["id"] = job["id"]
        protocol.write(json.dumps(record, allow_nan=True) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

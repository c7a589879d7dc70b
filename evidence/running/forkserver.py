"""Start workers with torch and Lightning already imported: a fork server.

Importing torch and pytorch_lightning costs seconds, and the build starts a worker per topic.
A `ForkServer` is one process that imports them once and then forks a child for each
worker: the child is a fresh copy of a process that has done nothing but import, so topics still
share no state (seeds, thread counts, warning filters, CUDA) while none pays the imports again.

Used on Linux only, with this interpreter (a worker for another environment, such as a shard of
the version matrix, starts as a plain subprocess); ``DOCS_FORKSERVER=0`` switches it off.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

PRELOAD = ("torch", "pytorch_lightning", "lightning_fabric", "numpy")
"""What the server imports before it forks (what every topic's programs import)."""


def enabled() -> bool:
    return sys.platform.startswith("linux") and os.environ.get("DOCS_FORKSERVER", "1") != "0"


LOST = -255
"""The exit code of a worker whose server died before it could report it."""


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Forked:
    """A worker forked by the server, handled like a ``subprocess.Popen``."""

    def __init__(self, server: "ForkServer", pid: int):
        self.server, self.pid = server, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.exit_code(self.pid)
        if self.returncode is None and not self.server.alive() and not _exists(self.pid):
            self.returncode = LOST  # the server is gone and cannot report the worker's exit
        return self.returncode

    def wait(self) -> int:
        while self.poll() is None:
            self.server.exited.wait(0.1)
        return self.returncode

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class ForkServer:
    """The server process, started on first use; `start` forks a worker from it."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()
        self.codes: dict[int, int] = {}
        self.exited = threading.Event()
        self._requests = 0
        self._answers: dict[int, int] = {}  # request number -> the pid forked for it
        self._answered = threading.Condition()
        self._ready = threading.Event()

    def _ensure(self, env: dict) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        # run as a script, not as evidence.running.forkserver: the server must not import this
        # project's modules, or every worker would inherit them as they were when it started
        self._ready = threading.Event()
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve())], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read_exits, args=(self.process, self._ready), daemon=True)
        self._reader.start()
        # the server says "ready" once torch and Lightning are imported: seconds on a quiet machine,
        # minutes on a loaded one, so this waits while the server lives rather than for a set time
        while not self._ready.wait(1):
            if self.process.poll() is not None:
                code = self.process.returncode
                self.close()
                raise RuntimeError(f"the fork server exited with code {code} while importing")

    def _read_exits(self, process: subprocess.Popen, ready: threading.Event) -> None:
        for line in process.stdout:
            message = json.loads(line)
            if "exited" in message:
                self.codes[message["exited"]] = message["code"]
                self.exited.set()
            elif "started" in message:
                with self._answered:
                    self._answers[message["request"]] = message["started"]
                    self._answered.notify_all()
            elif "ready" in message:
                ready.set()

    def start(self, argv: list[str], cwd: str, env: dict, stderr_path: str) -> Forked:
        """Fork a worker running ``python -m <argv...>`` with ``cwd``, ``env`` and stderr to a file."""
        with self.lock:
            self._ensure(env)
            self._requests += 1
            number = self._requests  # each answer names its request: a late one is never another's
            self.process.stdin.write(json.dumps({"request": number, "argv": argv, "cwd": cwd, "env": env,
                                                 "stderr": stderr_path}) + "\n")
            self.process.stdin.flush()
            with self._answered:
                if not self._answered.wait_for(lambda: number in self._answers or not self.alive(), timeout=300):
                    raise RuntimeError("the fork server did not answer within 300 s")
                if number not in self._answers:
                    raise RuntimeError(f"the fork server exited with code {self.process.returncode}")
                return Forked(self, self._answers.pop(number))

    def exit_code(self, pid: int) -> int | None:
        return self.codes.get(pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        self._reader.join(5)  # it ends at the server's end of output
        for pipe in (self.process.stdin, self.process.stdout):
            pipe.close()


_SERVER: ForkServer | None = None


def server() -> ForkServer:
    global _SERVER
    if _SERVER is None:
        _SERVER = ForkServer()
    return _SERVER


# -- the server process -------------------------------------------------------------------------

def _child(request: dict) -> None:
    """In the forked child: become the worker the request describes."""
    import runpy

    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:0] = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    devnull = os.open(os.devnull, os.O_RDWR)
    errors = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(errors, 2)
    sys.argv = [request["argv"][0], *request["argv"][1:]]
    code = 0
    try:
        runpy.run_module(request["argv"][0], run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> int:
    import importlib
    import warnings

    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        sys.path.pop(0)  # started as a script: its folder is not a place to import from
    # Ctrl-C in a terminal reaches the whole foreground group: the build decides what stops (it
    # kills its workers and stores what finished); the server must outlive the signal to report
    # their exits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # import-time warnings are the children's to show
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
    out = sys.stdout
    children: set[int] = set()
    write = threading.Lock()

    def report(message: dict) -> None:
        with write:
            out.write(json.dumps(message) + "\n")
            out.flush()

    def reap() -> None:
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                threading.Event().wait(0.05)
                continue
            children.discard(pid)
            report({"exited": pid, "code": os.waitstatus_to_exitcode(status)})

    threading.Thread(target=reap, daemon=True).start()
    report({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        children.add(pid)
        report({"started": pid, "request": request["request"]})
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

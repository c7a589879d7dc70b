"""The worker of the page *Diff your own loops*: ``python -m evidence.loopdiff.worker JOB.json OUT_DIR``.

Each run of ``evidence/loopdiff/runs.toml`` names two recordings and the commands that make
them (``params``: ``a``, ``a_command``, ``b``, ``b_command``) and the exit code the page expects of
their diff (``exit``). The worker runs the three commands as a reader runs them from the root of
a clone, in a fresh folder that holds only a link to ``snippets/``::

    loopdiff record -o pytorch.json snippets/minimal_loop/pytorch_minimal_loop.py --epochs 2
    loopdiff record -o lightning.json snippets/minimal_loop/lightning_minimal_loop.py --epochs 2
    loopdiff diff pytorch.json lightning.json

Each ``record`` in a process of its own (``python -m evidence.loopdiff``, what the ``loopdiff``
console script runs), so that the two programs share nothing; the ``diff`` in this process
(`evidence.loopdiff.cli.main`, the same function). It keeps every command with its exit code and
output, and the diff's summary. A command that fails, or a diff whose exit code is not the
declared one, fails the run: the page's text would no longer be true.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from evidence.programs import PROJECT_DIR, SNIPPETS_DIR
from evidence.running import measure, policy
from evidence.running.environment import stamp
from evidence.running.worker import serve

LOOPDIFF_PREFIX = "loopdiff:"
"""How loopdiff's own lines start (the rest of a ``record``'s output is the script's)."""


class CommandFailed(Exception):
    """A command of the run did not do what the run declares; says which, with its output."""

    def __init__(self, command: str, message: str, output: str):
        self.location = command
        self.text = f"{message}\n$ {command}\n{output}"
        super().__init__(f"{command}: {message}")


def _record(side: str, params: dict, work: Path, threads: int, roots: list[str]) -> dict:
    """Run ``loopdiff record`` for one side in a process of its own; the command and what it printed."""
    argv = ["record", "-o", params[side], *shlex.split(params[f"{side}_command"])]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(PROJECT_DIR), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "evidence.loopdiff", *argv], cwd=work, env=env,
                          capture_output=True, text=True)
    output = policy.strip_adverts(measure.sanitize(done.stdout + done.stderr, roots))
    command = "loopdiff " + shlex.join(argv)
    if done.returncode != 0:
        raise CommandFailed(command, f"exited with code {done.returncode}", output)
    own = [line for line in done.stderr.splitlines() if line.startswith(LOOPDIFF_PREFIX)]
    script = [line for line in (done.stdout + done.stderr).splitlines()
              if line.strip() and not line.startswith(LOOPDIFF_PREFIX)]
    return {"command": command, "exit_code": done.returncode,
            "loopdiff_output": measure.sanitize("\n".join(own), roots),
            "script_lines": len(script), "output": output}


def _diff(params: dict, work: Path, roots: list[str]) -> dict:
    """Run ``loopdiff diff`` in this process, from ``work``; the command, its output and exit code."""
    from evidence.loopdiff import cli, comparing

    argv = ["diff", params["a"], params["b"], *shlex.split(params.get("diff_options", ""))]
    out = io.StringIO()
    here = Path.cwd()
    os.chdir(work)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = cli.main(argv)
        a, b = comparing.load(params["a"]), comparing.load(params["b"])
        result = comparing.compare(a, b, 0.0, (params["a"], params["b"]))
    finally:
        os.chdir(here)
    parted = result.parted
    summary = {"verdict": result.verdict, "steps": list(result.steps), "matched": [m.how for m in result.matches],
               "parted": None if parted is None else {"step": parted.step, "tensor": parted.tensor,
                                                      "value": parted.value}}
    return {"command": "loopdiff " + shlex.join(argv), "exit_code": code,
            "output": measure.sanitize(out.getvalue(), roots), "summary": summary}


def run_spec(spec: dict) -> dict:
    """Record both sides of one declared run, diff them, and return the JSON-ready report."""
    policy.apply()
    params = spec["params"]
    threads = int(spec.get("threads", 1))
    with tempfile.TemporaryDirectory(prefix="loopdiff-") as folder:
        work = Path(folder)
        (work / SNIPPETS_DIR.name).symlink_to(SNIPPETS_DIR, target_is_directory=True)
        roots = [*spec.get("roots", []), str(work), os.path.realpath(work)]
        records = [_record(side, params, work, threads, roots) for side in ("a", "b")]
        diff = _diff(params, work, roots)
    expected = params.get("exit")
    if expected is not None and diff["exit_code"] != expected:
        raise CommandFailed(diff["command"], f"exited with code {diff['exit_code']}, where the page expects "
                                             f"{expected}", diff["output"])
    return {"topic": spec["topic"], "run": spec["run"], "environment": stamp(threads),
            "records": records, "diff": diff, "expected_exit": expected}


if __name__ == "__main__":
    raise SystemExit(serve(run_spec))

"""``loopdiff record``: run a training script under the site's recorder and write what it did.

The script runs in this process exactly as ``python SCRIPT ARGS...`` would run it: its folder
first on ``sys.path``, ``sys.argv`` set to ``[SCRIPT, *ARGS]``, executed as ``__main__``
(`runpy.run_path`). Nothing in it is changed. While it runs, `evidence.running.trace.Recorder`
records its calls and, after every optimizer step, a line of the parity ledger (the loss of the
last backward and a digest of the stepped parameters); a hook of this module, called right after
the recorder's, keeps a copy of those parameters while ``--snapshot-mb`` lasts.

The file (`FORMAT`, version `VERSION`) is JSON::

    {"format": "loopdiff-recording", "version": 1,
     "script": "train.py", "argv": ["--epochs", "2"], "rank": "...", "stopped": "...",
     "versions": {"python": "3.12.3", "torch": "2.5.1", "pytorch_lightning": "2.4.0"},
     "events": [{"op": "forward", "mode": "train", "grad": "grad", "by": "run", ...}, ...],
     "ledger": [{"step": 1, "loss": 0.69, "digest": "3fa2...", "optimizer": 0}, ...],
     "optimizers": [{"class": "Adam", "parameters": [{"name": "0.weight", "shape": [16, 10],
                                                       "dtype": "torch.float32"}, ...]}],
     "snapshots": {"encoding": "base64 of little-endian float32, one string per parameter",
                   "budget_mb": 256.0, "steps": 26, "data": [["AAB...", ...], ...]}}

``optimizers`` has one entry per set of parameters an optimizer stepped (a new optimizer over the
same parameters is the same entry), with the names the recorder gives them (from the outermost
module the script called, wrapper prefixes removed); each ledger line says which entry stepped.
``snapshots.data[k]`` holds the parameters after optimizer step ``k + 1``, in the order of
its entry's ``parameters``. Snapshots stop at the first step that would exceed the budget;
the digests go on for every step.

Multi-process scripts: only rank 0 records. A process whose ``RANK`` (or, without it,
``LOCAL_RANK``) is set and not ``0`` runs the script unrecorded and writes nothing; processes a
script starts itself (``torch.multiprocessing.spawn``) are not recorded either.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import runpy
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

FORMAT = "loopdiff-recording"
"""The ``format`` key every recording carries: a JSON file without it is not one."""

VERSION = 1
"""The version of the file's layout this module writes and reads."""

DEFAULT_SNAPSHOT_MB = 256.0
"""Memory for parameter snapshots unless ``--snapshot-mb`` says otherwise (the site's recorder's budget)."""

SNAPSHOT_ENCODING = "base64 of little-endian float32, one string per parameter"
"""How a snapshot's parameters are written (lossless for float32, bfloat16 and float16 parameters)."""


class RecordingError(Exception):
    """Why a script could not be recorded, in one line (``loopdiff record`` prints it and exits 3)."""


class _StopRecording(BaseException):
    """Raised from the optimizer step hook once ``--max-steps`` steps are recorded.

    A `BaseException`, like `KeyboardInterrupt`, so that a script's ``except Exception`` does
    not swallow it; Lightning's Trainer tears down and re-raises it, and `record` catches it.
    """


def rank() -> str | None:
    """This process's rank from the launcher's environment (``RANK``, else ``LOCAL_RANK``), or None."""
    for name in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(name)
        if value not in (None, ""):
            return value
    return None


def encode(tensor) -> str:
    """One parameter as base64 of its values in little-endian float32."""
    values = tensor.detach().to("cpu", copy=True).float().contiguous().numpy().astype("<f4", copy=False)
    return base64.b64encode(values.tobytes()).decode("ascii")


def decode(text: str, shape: list[int]):
    """The inverse of `encode`: a float64 numpy array of ``shape``."""
    import numpy as np

    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float64).reshape(shape)


class _Snapshots:
    """The hook called after the recorder's on every optimizer step: names the stepped
    optimizer's parameters once, copies them while the budget lasts, and stops the script after
    ``max_steps`` steps."""

    def __init__(self, recorder, budget_bytes: int, max_steps: int | None):
        self.recorder = recorder
        self.budget_bytes = budget_bytes
        self.max_steps = max_steps
        self.optimizers: list[dict] = []
        self._index: dict[tuple, int] = {}
        self.data: list[list[str]] = []
        self.used_bytes = 0
        self.full = False

    def __call__(self, optimizer, args, kwargs) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        key = tuple(id(p) for p in params)  # a new optimizer over the same parameters is the same entry
        if key not in self._index:
            self._index[key] = len(self.optimizers)
            names = self.recorder._parameter_names(params)
            self.optimizers.append({"class": type(optimizer).__name__, "parameters": [
                {"name": name, "shape": list(p.shape), "dtype": str(p.dtype)} for name, p in zip(names, params)]})
        line = self.recorder.ledger[-1]
        line["optimizer"] = self._index[key]
        size = 4 * sum(p.numel() for p in params)
        if not self.full and self.used_bytes + size <= self.budget_bytes:
            self.data.append([encode(p) for p in params])
            self.used_bytes += size
        else:
            self.full = True  # snapshots stay a prefix of the steps
        if self.max_steps is not None and len(self.recorder.ledger) >= self.max_steps:
            raise _StopRecording


def _versions() -> dict:
    """Python, torch, and the Lightning packages the script imported."""
    import torch

    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("pytorch_lightning", "lightning", "lightning_fabric"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__version__", None):
            out[name] = module.__version__
    return out


def _run_script(path: Path, argv: list[str]) -> int:
    """Run ``path`` as ``__main__`` with ``argv``, as the interpreter would; its exit code.

    ``sys.argv`` and ``sys.path`` are restored afterwards. An exception the script raises
    propagates (except `SystemExit`, whose code is returned).
    """
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [str(path), *argv]
    sys.path.insert(0, str(path.parent))
    try:
        runpy.run_path(str(path), run_name="__main__")
        return 0
    except SystemExit as done:
        code = done.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)  # as the interpreter does with SystemExit("message")
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def record(script: str, argv: list[str], output: str, max_steps: int | None = None,
           snapshot_mb: float = DEFAULT_SNAPSHOT_MB, say: Callable[[str], object] | None = None) -> int:
    """Run ``script`` with ``argv`` under the recorder and write the recording to ``output``.

    Args:
        script: the training script's path, as the reader typed it.
        argv: its command-line arguments.
        output: the JSON file to write.
        max_steps: stop the script after this many optimizer steps (None: let it finish).
        snapshot_mb: memory for parameter snapshots, in MiB (float32 copies after every step).
        say: what prints loopdiff's own one-line messages (default: to ``sys.stderr``).

    Returns:
        The script's exit code (0 when ``--max-steps`` stopped it).

    Raises:
        RecordingError: the script or the output's folder does not exist, or the script failed or never
            stepped an optimizer.
    """
    say = say or (lambda text: print(f"loopdiff: {text}", file=sys.stderr))
    path = Path(script)
    if not path.is_file():
        raise RecordingError(f"no script {script!r} to record")
    if max_steps is not None and max_steps < 1:
        raise RecordingError("--max-steps must be at least 1")
    if snapshot_mb < 0:
        raise RecordingError("--snapshot-mb cannot be negative")
    if not Path(output).resolve().parent.is_dir():
        raise RecordingError(f"no folder to write {output} into")
    real = Path(os.path.realpath(path))  # the code's file name, which the recorder matches frames with
    this_rank = rank()
    if this_rank not in (None, "0"):
        say(f"rank {this_rank}: not recorded (only rank 0 records); running {script} unrecorded")
        return _run_script(real, argv)

    from torch.optim import optimizer as torch_optimizer

    from evidence.running.trace import Recorder

    recorder = Recorder(real)
    snapshots = _Snapshots(recorder, int(snapshot_mb * 2**20), max_steps)
    stopped = "the script returned"
    with recorder:
        handle = torch_optimizer.register_optimizer_step_post_hook(snapshots)  # after the recorder's
        try:
            code = _run_script(real, argv)
            if code != 0:
                stopped = f"the script exited with code {code}"
        except _StopRecording:
            code = 0
            stopped = f"stopped at --max-steps {max_steps}"
        except Exception as error:
            traceback.print_exc()
            where = traceback.extract_tb(error.__traceback__)[-1]
            raise RecordingError(f"{script} raised {type(error).__name__} at {Path(where.filename).name}:"
                                 f"{where.lineno} after {len(recorder.ledger)} optimizer steps; nothing written") from None
        finally:
            handle.remove()
    if not recorder.ledger:
        raise RecordingError(f"{script} never stepped a torch.optim optimizer in this process, so there is nothing "
                             "to compare (a script that trains only in processes it starts itself is not recorded); "
                             "nothing written")
    if code != 0:
        raise RecordingError(f"{script} exited with code {code} after {len(recorder.ledger)} optimizer steps; "
                             "nothing written")
    world = os.environ.get("WORLD_SIZE")
    report = {
        "format": FORMAT, "version": VERSION, "script": script, "argv": list(argv),
        "rank": (f"rank {this_rank or 0} of {world} processes (only rank 0 records)" if world not in (None, "", "1")
                 else "one process"),
        "stopped": stopped, "versions": _versions(),
        "events": recorder.events, "ledger": recorder.ledger, "optimizers": snapshots.optimizers,
        "snapshots": {"encoding": SNAPSHOT_ENCODING, "budget_mb": float(snapshot_mb), "steps": len(snapshots.data),
                      "data": snapshots.data},
    }
    Path(output).write_text(json.dumps(report, allow_nan=True))
    kept = ("parameters after each of them" if len(snapshots.data) == len(recorder.ledger)
            else f"parameters after the first {len(snapshots.data)} (--snapshot-mb {snapshot_mb:g})")
    if stopped.startswith("stopped"):
        kept += (f"; {stopped} (loopdiff raised its own exception from the step hook, which ended the script's run "
                 "there)")
    say(f"recorded {len(recorder.ledger)} optimizer steps and {len(recorder.events)} calls of {script} "
        f"into {output}, with the {kept}")
    return code

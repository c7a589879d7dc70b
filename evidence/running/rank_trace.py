"""Record rank 0 of a job whose ranks are processes of their own (a run with ``in_process = false``).

The call recorder (`evidence.running.trace.Recorder`) listens in the process it runs in, and a
DDP program's ``run()`` starts its ranks with ``torchrun``, each a new Python process. For the
headline run of such a topic the worker calls ``run()`` once more inside `recording`: a
``sitecustomize`` module put first on ``PYTHONPATH`` calls `start` in every Python process the
job starts, and in the one whose ``RANK`` is ``0`` and whose main file is the program, `start`
enters a recorder, which writes its report (and, for the reference, its parameter snapshots)
when that process exits. `read` gives the worker what it would have had from a recorder of its
own. Only rank 0 is recorded: every rank takes the same optimizer steps on the same weights
(DDP averages the gradients), and the frameworks print, log and save on rank 0.

Nothing in the programs changes: the variables below only tell this module where to write.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import types
from pathlib import Path

FOLDER = "EVIDENCE_RANK_TRACE_DIR"
"""Where rank 0 writes its report (``trace.json``) and snapshots (``snapshots.pt``)."""
PROGRAM = "EVIDENCE_RANK_TRACE_PROGRAM"
"""The program file whose rank 0 is recorded (a process running another main file is left alone)."""
REFERENCE = "EVIDENCE_RANK_TRACE_REFERENCE"
"""The folder of the reference's recording, to compare with step by step (the parity ledger)."""

SITECUSTOMIZE = ("try:\n    from evidence.running import rank_trace\nexcept ImportError:\n    pass\n"
                 "else:\n    rank_trace.start()\n")


def start() -> None:
    """In rank 0 of the program named by `PROGRAM`: record until the process exits."""
    folder, program = os.environ.get(FOLDER), os.environ.get(PROGRAM)
    if not folder or not program or os.environ.get("RANK") != "0" or not sys.argv or not sys.argv[0]:
        return
    if Path(sys.argv[0]).resolve() != Path(program).resolve():
        return
    from evidence.running.trace import Recorder

    reference = _reference(os.environ.get(REFERENCE))
    recorder = Recorder(Path(program), reference=reference, keep_snapshots=reference is None)
    recorder.__enter__()
    atexit.register(_write, recorder, Path(folder))


def _write(recorder, folder: Path) -> None:
    import torch

    recorder.__exit__(None, None, None)
    folder.mkdir(parents=True, exist_ok=True)
    if recorder.keep_snapshots:
        torch.save(recorder.snapshots, folder / "snapshots.pt")
    tmp = folder / "trace.json.tmp"
    tmp.write_text(json.dumps({**recorder.report(), "names": recorder.names}, allow_nan=True))
    tmp.replace(folder / "trace.json")


def _reference(folder: str | None):
    """A recording `read` back with its snapshots, as the reference `Recorder` of a comparison."""
    if not folder or not (Path(folder) / "trace.json").is_file():
        return None
    import torch

    found = read(Path(folder))
    snapshots = Path(folder) / "snapshots.pt"
    found.snapshots = torch.load(snapshots, weights_only=True) if snapshots.is_file() else []
    return found


def read(folder: Path):
    """Rank 0's recording in ``folder``: ``ledger``, ``first_divergence``, ``names`` and ``report()``
    as a `Recorder` has them; ``None`` when no rank 0 of the program was recorded."""
    path = folder / "trace.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    report = {k: data[k] for k in ("events", "ledger", "first_divergence")}
    return types.SimpleNamespace(ledger=data["ledger"], first_divergence=data["first_divergence"],
                                 names=data.get("names", []), snapshots=[], report=lambda: report)


@contextlib.contextmanager
def recording(program: Path, folder: Path, reference: Path | None = None):
    """Inside: the ranks of ``program`` that this process starts record rank 0 into ``folder``
    (compared with the recording in ``reference`` when given)."""
    from evidence.programs import PROJECT_DIR

    site = folder / "site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    saved = {name: os.environ.get(name) for name in (FOLDER, PROGRAM, REFERENCE, "PYTHONPATH")}
    os.environ.update({FOLDER: str(folder), PROGRAM: str(program)})
    if reference is not None:
        os.environ[REFERENCE] = str(reference)
    else:
        os.environ.pop(REFERENCE, None)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), str(PROJECT_DIR)]
                                               + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

"""One rank of a multi-process program, run as torchrun runs it (the program file as ``__main__``), and
how the rank ends its process group.

`torchrun --standalone --nproc-per-node 2 rank_exit_probe.py PROGRAM REPORT_DIR [ARGS...]` runs
`PROGRAM ARGS...` on each rank and writes `REPORT_DIR/rank<RANK>.json`:
`{"after_destroy": [gloo thread names right after each destroy_process_group() call],
"at_exit": [gloo thread names], "group_initialized": bool}`, the last two from an ``atexit`` handler
registered before the program starts (so it runs after every handler the program or its libraries
register, just before the interpreter finalizes). A gloo thread still alive after the call belongs to
a group that something else holds: it ends later, when that holder is freed, which can deadlock (a
DDP wrapper's reducer freed with the GIL held) or abort the finished rank in the interpreter's teardown
("terminate called without an active exception"); see the contributing page. Linux only: thread names
come from ``/proc/self/task``.
"""

import atexit
import json
import os
import runpy
import sys
from pathlib import Path

import torch.distributed

program, report_dir, *arguments = sys.argv[1:]
found = {"after_destroy": []}


def gloo_threads() -> list[str]:
    names = [(task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()]
    return sorted(name for name in names if "gloo" in name)


destroy = torch.distributed.destroy_process_group


def observed_destroy(*args, **kwargs):
    destroy(*args, **kwargs)
    found["after_destroy"].append(gloo_threads())


def report() -> None:
    found.update(at_exit=gloo_threads(), group_initialized=torch.distributed.is_initialized())
    (Path(report_dir) / f"rank{os.environ['RANK']}.json").write_text(json.dumps(found))


atexit.register(report)
torch.distributed.destroy_process_group = observed_destroy  # the programs call it through the module
sys.argv = [program, *arguments]
sys.path.insert(0, os.path.dirname(os.path.abspath(program)))
runpy.run_path(program, run_name="__main__")

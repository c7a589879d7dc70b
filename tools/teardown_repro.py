"""The teardown abort reduced to a few lines: a gloo process group left to the interpreter's exit.

A rank that finishes its work without ``torch.distributed.destroy_process_group()`` leaves its
``ProcessGroupGloo`` to the interpreter's teardown, where it can abort the finished process with
"terminate called without an active exception" (SIGABRT). Lightning destroys the group at exit
only when the backend is NCCL (``_init_dist_connection`` registers an ``atexit`` handler for
``nccl`` alone, since 2.3.0), so a Fabric or Trainer job on CPUs leaves it, as a plain script
without the call does. This is one cause of the rank aborts the metrics and DDP topics met in
December 2026 (plain programs that destroy their group aborted too, rarely: see the contributing
page).

The same abort remains where the call does not destroy the group because something else still
holds it (a ``DistributedDataParallel`` wrapper's reducer, in the topics' programs): a gloo worker
thread then frees the last collective's work, whose tensors are Python tensors, while the
interpreter finalizes, and Python 3.11 ends a thread that asks for the GIL then with
``pthread_exit``, whose unwind through the destructor calls ``std::terminate``. Two variants hold
the group in a list to show it, one with a ``barrier()`` before the call.

Each variant starts ``--ranks`` gloo ranks with torchrun (``--standalone``), gathers and reduces
one tensor, and ends with or without the call; each runs ``--runs`` times, and a run counts as
aborted when a rank died of SIGABRT or printed the message. The upstream reports:
pytorch/pytorch#190489 (the message from a group never destroyed, open) and #65513 (the same
abort in PyTorch's own tests, fixed there by calling destroy_process_group)::

    python tools/teardown_repro.py --runs 20
    python tools/teardown_repro.py --runs 20 --write tools/teardown-repro.md

Exit code 0 when every variant that destroys a group nothing else holds ran clean, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

PLAIN = """
import sys
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
if "hold" in sys.argv:  # the group held elsewhere, as a DistributedDataParallel wrapper holds it
    holder = [dist.group.WORLD]
value = torch.tensor([float(dist.get_rank())])
gathered = [torch.empty(1) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, value)
dist.all_reduce(value)
if "barrier" in sys.argv:
    dist.barrier()
if "destroy" in sys.argv:
    dist.destroy_process_group()
"""

FABRIC = """
import sys
import torch
from lightning_fabric import Fabric

fabric = Fabric(accelerator="cpu", devices=int(__import__("os").environ["WORLD_SIZE"]), strategy="ddp")
fabric.launch()
value = torch.tensor([float(fabric.global_rank)])
fabric.all_gather(value)
fabric.all_reduce(value, reduce_op="sum")
if "destroy" in sys.argv:
    torch.distributed.destroy_process_group()
"""

SCRIPTS = {"plain.py": PLAIN, "fabric.py": FABRIC}
VARIANTS = {  # name: (script, its arguments, whether the call ends a group nothing else holds)
    "plain torch, gloo, no destroy_process_group()": ("plain.py", (), False),
    "plain torch, gloo, destroy_process_group() at the end": ("plain.py", ("destroy",), True),
    "plain torch, gloo, group held elsewhere, destroy_process_group() at the end":
        ("plain.py", ("hold", "destroy"), False),
    "plain torch, gloo, group held elsewhere, barrier() then destroy_process_group()":
        ("plain.py", ("hold", "barrier", "destroy"), False),
    "Fabric(strategy=\"ddp\"), gloo, as Lightning leaves it": ("fabric.py", (), False),
    "Fabric(strategy=\"ddp\"), gloo, destroy_process_group() at the end (the programs)":
        ("fabric.py", ("destroy",), True),
}
MESSAGE = "terminate called without an active exception"


def run_once(script: Path, ranks: int, arguments: tuple[str, ...]) -> tuple[bool, str]:
    """One torchrun job: whether a rank aborted, and the job's output."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
               str(script), *arguments]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    output = job.stdout + job.stderr
    aborted = MESSAGE in output or "SIGABRT" in output or "Signal 6" in output
    if job.returncode and not aborted:
        raise SystemExit(f"the job failed for another reason (exit code {job.returncode}):\n{output[-3000:]}")
    return aborted, output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each variant")
    parser.add_argument("--ranks", type=int, default=5, help="gloo ranks in each run")
    parser.add_argument("--write", help="also write the figures as Markdown to this file")
    args = parser.parse_args(argv)
    import lightning_fabric
    import torch

    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, code in SCRIPTS.items():
            (Path(tmp) / name).write_text(code)
        for name, (script, arguments, _) in VARIANTS.items():
            counts[name] = sum(run_once(Path(tmp) / script, args.ranks, arguments)[0] for _ in range(args.runs))
            print(f"{name}: {counts[name]} of {args.runs} runs aborted", flush=True)
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    lines = [f"Measured by `tools/teardown_repro.py` on {date}: {args.runs} runs of each variant, {args.ranks} gloo "
             f"ranks started by torchrun, on {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"lightning_fabric {lightning_fabric.__version__}.", "",
             "| variant | runs that aborted |", "|---|---:|"]
    lines += [f"| {name} | {count} of {args.runs} |" for name, count in counts.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 1 if any(counts[name] for name, (_, _, ends_it) in VARIANTS.items() if ends_it) else 0


if __name__ == "__main__":
    sys.exit(main())

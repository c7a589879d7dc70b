"""The teardown abort, and the deadlock beside it, reduced to a few lines: how a gloo process group ends.

A gloo process group ends cleanly when ``torch.distributed.destroy_process_group()`` drops the last
reference to it: the group's destructor then joins its worker threads with the GIL released. Held
anywhere else, the group ends later, and two things can go wrong, both seen in this site's builds:

- **Abort.** Left to the interpreter's teardown (no call at all, as Lightning leaves a gloo group: its
  ``atexit`` handler destroys NCCL groups only, since 2.3.0; or a group something holds until then), a
  gloo worker thread that frees the last collective's work, whose tensors are Python tensors, asks for
  the GIL while the interpreter finalizes; Python 3.11 ends such a thread with ``pthread_exit``, whose
  unwind through a destructor calls ``std::terminate``: "terminate called without an active exception"
  (SIGABRT) in a rank that had finished its work. What holds the group that long in a plain DDP
  program: ``torch.distributed.nn`` binds ``group.WORLD`` into its functions' default arguments when it
  is first imported, and constructing ``DistributedDataParallel`` imports it (torch 2.13, through
  ``torch._dynamo``), after the group exists. Lightning and Fabric import ``torch._dynamo`` when they are
  imported, before any group exists.
- **Deadlock.** Held by a ``DistributedDataParallel`` wrapper (its reducer), the group ends when the
  wrapper is freed: the reducer is freed with the GIL held, the group's destructor joins a worker
  thread, and that thread, freeing its last work's Python tensors, waits for the GIL: the rank hangs.

Each variant starts ``--ranks`` gloo ranks with torchrun (``--standalone``), gathers and reduces one
tensor (after a DDP step where it names one) and ends as it says; each runs ``--runs`` times. A run
counts as aborted when a rank died of SIGABRT or printed the message, and as hung when it had not
ended after ``--timeout`` seconds (its processes are then killed). Upstream: pytorch/pytorch#190489
(the message from a group never destroyed, open) and #65513 (the same abort in PyTorch's own tests);
the contributing page has a report of the two holders ready to file::

    python tools/teardown_repro.py --runs 20
    python tools/teardown_repro.py --runs 20 --write tools/teardown-repro.md

Exit code 0 when every variant in which the call ends the group ran clean, 1 otherwise.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evidence.running.processes import kill_tree  # noqa: E402

PLAIN = """
import sys
import torch
import torch.distributed as dist

if "import-first" in sys.argv:  # torch.distributed.nn imported before the group exists
    import torch.distributed.nn


def train():  # as the programs do: the wrapper is a local, freed when train() returns
    dist.init_process_group("gloo")
    if "ddp" in sys.argv:  # constructing DDP imports torch._dynamo, which imports torch.distributed.nn
        from torch.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(torch.nn.Linear(4, 2))
        model(torch.randn(3, 4)).sum().backward()
    value = torch.tensor([float(dist.get_rank())])
    gathered = [torch.empty(1) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, value)
    dist.all_reduce(value)
    if "release" in sys.argv:  # the wrapper released before the call
        del model
    if "destroy" in sys.argv:
        dist.destroy_process_group()


train()
"""

FABRIC = """
import os
import sys
import torch
from lightning_fabric import Fabric


def train():
    fabric = Fabric(accelerator="cpu", devices=int(os.environ["WORLD_SIZE"]), strategy="ddp")
    fabric.launch()
    if "setup" in sys.argv:  # a module set up by Fabric: a DDP wrapper inside
        model = fabric.setup(torch.nn.Linear(4, 2))
        fabric.backward(model(torch.randn(3, 4)).sum())
    value = torch.tensor([float(fabric.global_rank)])
    fabric.all_gather(value)
    fabric.all_reduce(value, reduce_op="sum")
    if "release" in sys.argv:  # Fabric's module (and its DDP wrapper) released before the call
        del model
    if "destroy" in sys.argv:
        torch.distributed.destroy_process_group()


train()
"""

SCRIPTS = {"plain.py": PLAIN, "fabric.py": FABRIC}
VARIANTS = {  # name: (script, its arguments, whether the call ends the group)
    "plain torch, no destroy_process_group()": ("plain.py", (), False),
    "plain torch, destroy_process_group() at the end": ("plain.py", ("destroy",), True),
    "plain torch, DDP, destroy_process_group() at the end (the group held by torch.distributed.nn)":
        ("plain.py", ("ddp", "destroy"), False),
    "plain torch, torch.distributed.nn imported first, DDP, destroy_process_group() at the end (held by the "
    "wrapper)": ("plain.py", ("import-first", "ddp", "destroy"), False),
    "plain torch, torch.distributed.nn imported first, DDP released, then destroy_process_group() (the programs)":
        ("plain.py", ("import-first", "ddp", "release", "destroy"), True),
    "Fabric(strategy=\"ddp\"), as Lightning leaves it": ("fabric.py", (), False),
    "Fabric(strategy=\"ddp\"), fabric.setup(module), destroy_process_group() at the end (held by the wrapper)":
        ("fabric.py", ("setup", "destroy"), False),
    "Fabric(strategy=\"ddp\"), fabric.setup(module), module released, then destroy_process_group() (the programs)":
        ("fabric.py", ("setup", "release", "destroy"), True),
}
MESSAGE = "terminate called without an active exception"


def run_once(script: Path, ranks: int, arguments: tuple[str, ...], timeout: float) -> str | None:
    """One torchrun job: "aborted", "hung" or None (it ended cleanly)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
               str(script), *arguments]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        output, _ = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(job.pid)  # torchrun and every rank: it starts them in sessions of their own
        job.communicate()
        return "hung"
    if MESSAGE in output or "SIGABRT" in output or "Signal 6" in output:
        return "aborted"
    if job.returncode:
        raise SystemExit(f"the job failed for another reason (exit code {job.returncode}):\n{output[-3000:]}")
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each variant")
    parser.add_argument("--ranks", type=int, default=5, help="gloo ranks in each run")
    parser.add_argument("--timeout", type=float, default=90, help="seconds after which a run counts as hung")
    parser.add_argument("--only", help="run only the variants whose name contains this text")
    parser.add_argument("--write", help="also write the figures as Markdown to this file")
    args = parser.parse_args(argv)
    import lightning_fabric
    import torch

    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, code in SCRIPTS.items():
            (Path(tmp) / name).write_text(code)
        for name, (script, arguments, _) in VARIANTS.items():
            if args.only and args.only not in name:
                continue
            outcomes = [run_once(Path(tmp) / script, args.ranks, arguments, args.timeout) for _ in range(args.runs)]
            counts[name] = {outcome: outcomes.count(outcome) for outcome in ("aborted", "hung")}
            print(f"{name}: {counts[name]['aborted']} aborted, {counts[name]['hung']} hung, of {args.runs}", flush=True)
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    lines = [f"Measured by `tools/teardown_repro.py` on {date}: {args.runs} runs of each variant, {args.ranks} gloo "
             f"ranks started by torchrun, a run counted as hung after {args.timeout:g} s, on {platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
             f"lightning_fabric {lightning_fabric.__version__}.", "",
             "| variant | runs that aborted | runs that hung |", "|---|---:|---:|"]
    lines += [f"| {name} | {c['aborted']} of {args.runs} | {c['hung']} of {args.runs} |" for name, c in counts.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 1 if any(sum(counts.get(name, {}).values()) for name, (_, _, ends_it) in VARIANTS.items() if ends_it) else 0


if __name__ == "__main__":
    sys.exit(main())

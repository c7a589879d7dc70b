"""One rank of a DDP program's `train()`, started by torchrun: what this rank
opened for writing in the output folder, how many times it called `torch.save` (every
checkpoint goes through it: plain PyTorch's to a path, Lightning's and Fabric's to a buffer
they then write), and its final weights.

`torchrun --standalone --nproc-per-node 2 rank_probe.py KIND OUT_DIR REPORT_DIR` writes
`REPORT_DIR/rank<RANK>.pt`: `{"writes": [paths relative to OUT_DIR], "saves": int, "state_dict": {...}}`
(how each rank ends its process group: tests/rank_exit_probe.py).
"""

import importlib
import inspect
import os
import sys
from pathlib import Path

import torch

kind, out_dir, report_dir = sys.argv[1:4]
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
program = importlib.import_module(f"snippets.ddp.{kind}_ddp")
folder, writes, saves = os.path.abspath(out_dir), [], []


def record(path) -> None:
    path = os.path.abspath(os.fsdecode(path))
    if path.startswith(folder + os.sep) and os.path.relpath(path, folder) not in writes:
        writes.append(os.path.relpath(path, folder))


def hook(event, args) -> None:
    if event == "open" and isinstance(args[0], (str, bytes)) and args[2] & (os.O_WRONLY | os.O_RDWR):
        record(args[0])
    elif event in ("os.rename", "os.replace"):
        record(args[1])


save = torch.save


def recorded_save(obj, f, *args, **kwargs):  # torch.save(obj, "path") opens the file in C++, unseen by the hook
    saves.append(f)
    if isinstance(f, (str, os.PathLike)):
        record(f)
    return save(obj, f, *args, **kwargs)


sys.addaudithook(hook)
torch.save = recorded_save
arguments = {"epochs": 2, "seed": 0, "device": "cpu", "devices": int(os.environ["WORLD_SIZE"]), "batch_size": 32,
             "out_dir": out_dir}
model = program.train(**{k: v for k, v in arguments.items() if k in inspect.signature(program.train).parameters})
save({"writes": writes, "saves": len(saves), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}},
     Path(report_dir) / f"rank{os.environ['RANK']}.pt")

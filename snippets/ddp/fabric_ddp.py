"""Data-parallel training with Lightning Fabric: Fabric(strategy="ddp", devices=2), your loop on two processes."""

import argparse
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from lightning_fabric import Fabric, seed_everything
from lightning_fabric.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 640, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def record_writes(folder: Path) -> list:
    writes = []

    def hook(event, args):
        if event == "open" and isinstance(args[0], str) and args[2] & (os.O_WRONLY | os.O_RDWR):
            path = args[0]
        elif event in ("os.rename", "os.replace"):
            path = os.fsdecode(args[1])
        else:
            return
        if path.startswith(str(folder)) and writes[-1:] != [os.path.relpath(path, folder)]:
            writes.append(os.path.relpath(path, folder))

    sys.addaudithook(hook)
    return writes


def train_rank(args) -> None:
    out = Path(args.worker_dir)
    writes = record_writes(out / "run")
    fabric = Fabric(accelerator="gpu" if args.device == "cuda" else "cpu", strategy="ddp",
                    devices=int(os.environ["LOCAL_WORLD_SIZE"]), num_nodes=1, loggers=CSVLogger(out / "run"))
    fabric.launch()
    seed_everything(args.seed, verbose=False)
    train_set, val_set = make_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=args.batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    steps, seen = 0, 0

    for epoch in range(args.epochs):
        model.train()
        totals = torch.zeros(2, device=fabric.device)
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            totals += torch.stack([loss.detach() * len(x), torch.tensor(float(len(x)), device=fabric.device)])
            steps += 1
        seen = int(totals[1].item())
        totals = fabric.all_reduce(totals, reduce_op="sum")
        history["train_loss"].append((totals[0] / totals[1]).item())

        model.eval()
        totals = torch.zeros(2, device=fabric.device)
        with torch.no_grad():
            for x, y in val_loader:
                totals += torch.stack([loss_fn(model(x), y) * len(x), torch.tensor(float(len(x)), device=fabric.device)])
        totals = fabric.all_reduce(totals, reduce_op="sum")
        history["val_loss"].append((totals[0] / totals[1]).item())
        fabric.print(f"epoch {epoch + 1}/{args.epochs}  train_loss {history['train_loss'][-1]:.4f}"
                     f"  val_loss {history['val_loss'][-1]:.4f}", flush=True)
        fabric.log_dict({"train_loss": history["train_loss"][-1], "val_loss": history["val_loss"][-1]}, step=epoch)

    fabric.logger.finalize("success")
    fabric.save(out / "run" / "checkpoint.ckpt", {"model": model, "optimizer": optimizer, "epoch": args.epochs})
    fabric.barrier()
    report = {"rank": fabric.global_rank, "history": history, "steps": steps, "samples_last_epoch": seen,
              "writes": list(writes), "device": str(fabric.device),
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "state_dict": {k: v.detach().cpu() for k, v in model.module.state_dict().items()}}
    torch.save(report, out / f"rank{fabric.global_rank}.pt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inherited_warning_options() -> list:
    options = []
    for action, message, category, module, _ in warnings.filters:
        pattern = getattr(message, "pattern", message)
        literal = re.sub(r"\\(.)", r"\1", pattern or "")
        plain = pattern and ":" not in literal and not re.search(r"(?<!\\)[.*+?^$|\[\](){}]", pattern)
        if action == "ignore" and plain and not module and category.__module__ == "builtins":
            options += ["-W", f"ignore:{literal}:{category.__name__}"]
    return options


def launch(argv: list, world_size: int, out: Path, timeout: float = 600) -> list:
    port = free_port()
    procs = []
    for rank in range(world_size):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(world_size),
               "RANK": str(rank), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": str(world_size), "GROUP_RANK": "0"}
        with open(out / f"rank{rank}.log", "w") as log:
            command = [sys.executable, *inherited_warning_options(), os.path.abspath(__file__), *argv,
                       "--worker-dir", str(out)]
            procs.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in procs):
        if any(p.poll() not in (None, 0) for p in procs) or time.monotonic() > deadline:
            for p in procs:
                p.kill()
        time.sleep(0.05)
    logs = [(out / f"rank{rank}.log").read_text() for rank in range(world_size)]
    failed = [rank for rank, p in enumerate(procs) if p.returncode != 0]
    if failed:
        first = next((r for r in failed if procs[r].returncode != -signal.SIGKILL), failed[0])
        raise RuntimeError(f"rank {first} exited with code {procs[first].returncode}:\n{logs[first][-3000:]}")
    return logs


def resolve_device(name: str, world_size: int) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.device_count() >= world_size else "cpu"
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and torch.cuda.device_count() < world_size:
        raise ValueError(f"--device cuda needs {world_size} CUDA GPUs, found {torch.cuda.device_count()}")
    return name


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        world_size: int = 2, verbose: bool = False) -> dict:
    device = resolve_device(device, world_size)
    argv = ["--epochs", str(epochs), "--seed", str(seed), "--device", device, "--batch-size", str(batch_size),
            "--lr", str(lr)]
    with tempfile.TemporaryDirectory(prefix="ddp-") as tmp:
        logs = launch(argv, world_size, Path(tmp))
        ranks = [torch.load(Path(tmp) / f"rank{rank}.pt") for rank in range(world_size)]
        files = sorted(str(p.relative_to(Path(tmp) / "run")) for p in (Path(tmp) / "run").rglob("*") if p.is_file())
    if verbose:
        for rank, log in enumerate(logs):
            for line in log.splitlines():
                print(f"[rank {rank}] {line}")
    weights = [r.pop("state_dict") for r in ranks]
    spread = max(float((a - b).abs().max()) for w in weights[1:] for a, b in zip(weights[0].values(), w.values()))
    return {"history": ranks[0]["history"], "state_dict": weights[0], "steps": ranks[0]["steps"],
            "device": ranks[0]["device"], "world_size": world_size, "rank_weight_difference": spread,
            "files": files, "log_lines": [len(log.splitlines()) for log in logs],
            "ranks": [{k: r[k] for k in ("rank", "steps", "samples_last_epoch", "writes", "peak_rss_mib")}
                      for r in ranks]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--worker-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_dir:
        train_rank(args)
        return 0
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.world_size < 1:
        print("error: --epochs, --batch-size and --world-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.world_size, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps per rank on {result['world_size']} x {result['device']};"
          f" max weight difference between ranks {result['rank_weight_difference']:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

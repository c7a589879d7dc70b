"""Data-parallel training in plain PyTorch: two processes, init_process_group, DistributedSampler, DistributedDataParallel."""

import argparse
import csv
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
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


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
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    out = Path(args.worker_dir)
    writes = record_writes(out / "run")
    cuda = args.device == "cuda"
    dev = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    dist.init_process_group("nccl" if cuda else "gloo")
    torch.manual_seed(args.seed)
    train_set, val_set = make_data(args.seed)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    val_loader = DataLoader(val_set, batch_size=args.batch_size,
                            sampler=DistributedSampler(val_set, num_replicas=world_size, rank=rank, shuffle=False))

    model = DistributedDataParallel(build_model().to(dev), device_ids=[dev.index] if cuda else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    steps, seen = 0, 0
    if rank == 0:
        (out / "run").mkdir(exist_ok=True)

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        totals = torch.zeros(2, device=dev)
        for x, y in train_loader:
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals += torch.stack([loss.detach() * len(x), torch.tensor(float(len(x)), device=dev)])
            steps += 1
        seen = int(totals[1].item())
        dist.all_reduce(totals)
        history["train_loss"].append((totals[0] / totals[1]).item())

        model.eval()
        totals = torch.zeros(2, device=dev)
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                totals += torch.stack([loss_fn(model(x), y) * len(x), torch.tensor(float(len(x)), device=dev)])
        dist.all_reduce(totals)
        history["val_loss"].append((totals[0] / totals[1]).item())
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs}  train_loss {history['train_loss'][-1]:.4f}"
                  f"  val_loss {history['val_loss'][-1]:.4f}", flush=True)
            with open(out / "run" / "metrics.csv", "a", newline="") as file:
                csv.writer(file).writerow([epoch, history["train_loss"][-1], history["val_loss"][-1]])

    if rank == 0:
        with open(out / "run" / "checkpoint.pt", "wb") as file:
            torch.save({"model": model.module.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": args.epochs}, file)
    dist.barrier()
    report = {"rank": rank, "history": history, "steps": steps, "samples_last_epoch": seen,
              "writes": list(writes), "device": str(dev),
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "state_dict": {k: v.detach().cpu() for k, v in model.module.state_dict().items()}}
    torch.save(report, out / f"rank{rank}.pt")
    dist.destroy_process_group()


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

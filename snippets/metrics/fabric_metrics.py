"""F1 and AUROC on a validation set split over two processes, with Lightning Fabric: torchmetrics objects in your own loop, and fabric.all_reduce on a per-batch value."""

# region: not counted (the command line, and the launcher that stands in for torchrun)
import argparse
import re
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
# endregion
import os
import sys

try:
    from torchmetrics.classification import BinaryAUROC, BinaryF1Score
    from torchmetrics.functional.classification import binary_auroc, binary_f1_score
except ImportError:
    sys.exit("error: this program needs torchmetrics: pip install torchmetrics")
import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 800, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    score = x @ torch.randn(features, generator=generator) + 2.0 * torch.randn(n, generator=generator)
    y = (score > score.quantile(0.7)).long()
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


# region: not counted (the whole-set reference, computed on one process, and what run() returns)
def whole_set(network, val_set, dev):
    with torch.no_grad():
        probs = network(val_set.tensors[0].to(dev)).softmax(dim=1)[:, 1]
    y = val_set.tensors[1].to(dev)
    return {"true_f1": binary_f1_score(probs, y).item(), "true_auroc": binary_auroc(probs, y).item()}
# endregion


def train_rank(args) -> None:
    fabric = Fabric(accelerator="gpu" if args.device == "cuda" else "cpu", strategy="ddp",
                    devices=int(os.environ["LOCAL_WORLD_SIZE"]), num_nodes=1)
    fabric.launch()
    seed_everything(args.seed)
    train_set, val_set = make_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=args.batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    f1_metric, auroc_metric = BinaryF1Score().to(fabric.device), BinaryAUROC().to(fabric.device)
    # region: not counted (collects what run() returns)
    history, steps = {}, 0
    # endregion

    for epoch in range(args.epochs):
        model.train()
        totals = torch.zeros(2, device=fabric.device)
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            totals += torch.stack([loss.detach() * len(x), torch.tensor(float(len(x)), device=fabric.device)])
            # region: not counted (collects what run() returns)
            steps += 1
            # endregion
        totals = fabric.all_reduce(totals, reduce_op="sum")
        metrics = {"train_loss": totals[0] / totals[1]}

        model.eval()
        per_batch = torch.zeros(4, device=fabric.device)
        # region: not counted (collects what run() returns)
        val_batches = []
        # endregion
        with torch.no_grad():
            for x, y in val_loader:
                logits = model(x)
                probs = logits.softmax(dim=1)[:, 1]
                f1_metric.update(probs, y)
                auroc_metric.update(probs, y)
                per_batch += torch.stack([loss_fn(logits, y), binary_f1_score(probs, y), binary_auroc(probs, y),
                                          torch.tensor(1.0, device=fabric.device)]) * len(x)
                # region: not counted (collects what run() returns)
                val_batches.append(len(y))
                # endregion
        per_batch = fabric.all_reduce(per_batch, reduce_op="sum")
        metrics["val_loss"] = per_batch[0] / per_batch[3]
        metrics["val_f1"], metrics["val_auroc"] = f1_metric.compute(), auroc_metric.compute()
        metrics["batch_f1"], metrics["batch_auroc"] = per_batch[1] / per_batch[3], per_batch[2] / per_batch[3]
        f1_metric.reset()
        auroc_metric.reset()
        # region: not counted (the whole-set reference, and what run() returns)
        metrics.update(whole_set(model.module, val_set, fabric.device))
        for key, value in metrics.items():
            history.setdefault(key, []).append(float(value))
        # endregion
        fabric.print(f"epoch {epoch + 1}/{args.epochs}  " + "  ".join(f"{k} {float(v):.4f}" for k, v in metrics.items()),
                     flush=True)

    # region: not counted (collects what run() returns)
    report = {"rank": fabric.global_rank, "history": history, "steps": steps, "device": str(fabric.device),
              "val_batches": val_batches, "val_samples": sum(val_batches),
              "state_dict": {k: v.detach().cpu() for k, v in model.module.state_dict().items()}}
    torch.save(report, Path(args.worker_dir) / f"rank{fabric.global_rank}.pt")
    # endregion


# region: not counted (the command line, and the launcher that stands in for torchrun)
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


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-2,
        world_size: int = 2, verbose: bool = False) -> dict:
    device = resolve_device(device, world_size)
    argv = ["--epochs", str(epochs), "--seed", str(seed), "--device", device, "--batch-size", str(batch_size),
            "--lr", str(lr)]
    with tempfile.TemporaryDirectory(prefix="metrics-") as tmp:
        logs = launch(argv, world_size, Path(tmp))
        ranks = [torch.load(Path(tmp) / f"rank{rank}.pt") for rank in range(world_size)]
    if verbose:
        for rank, log in enumerate(logs):
            for line in log.splitlines():
                print(f"[rank {rank}] {line}")
    return {"history": ranks[0]["history"], "state_dict": ranks[0]["state_dict"], "steps": ranks[0]["steps"],
            "device": ranks[0]["device"], "world_size": world_size,
            "ranks": [{k: r[k] for k in ("rank", "val_batches", "val_samples")} for r in ranks]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--worker-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_dir:
        train_rank(args)
        # the rank's work is saved: end it without the interpreter's teardown, where torch's gloo
        # backend has been seen to abort a finished rank under load ("terminate called without
        # an active exception")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.world_size < 1:
        print("error: --epochs, --batch-size and --world-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.world_size, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps per rank on {result['world_size']} x {result['device']};"
          f" last epoch: F1 {result['history']['val_f1'][-1]:.4f}, whole-set F1 {result['history']['true_f1'][-1]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""F1 and AUROC on a validation set split over two processes, in plain PyTorch: by hand, with torchmetrics, and averaged per batch."""

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

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

try:
    from torchmetrics.classification import BinaryAUROC, BinaryF1Score
except ImportError:
    sys.exit("error: this program needs torchmetrics: pip install torchmetrics")


def make_data(seed: int, n: int = 800, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    score = x @ torch.randn(features, generator=generator) + 2.0 * torch.randn(n, generator=generator)
    y = (score > score.quantile(0.7)).long()
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def f1_from_counts(tp, fp, fn):
    return 2 * tp / (2 * tp + fp + fn)


def auroc(scores, labels):
    ranks = torch.empty_like(scores)
    ranks[scores.argsort()] = torch.arange(1, len(scores) + 1, dtype=scores.dtype, device=scores.device)
    positives = labels.sum()
    negatives = len(labels) - positives
    return (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def gather(tensor, world_size):
    parts = [torch.empty_like(tensor) for _ in range(world_size)]
    dist.all_gather(parts, tensor)
    return torch.cat(parts)


# region: not counted (the whole-set reference, computed on one process, and what run() returns)
def whole_set(network, val_set, dev):
    from torchmetrics.functional.classification import binary_auroc, binary_f1_score

    with torch.no_grad():
        probs = network(val_set.tensors[0].to(dev)).softmax(dim=1)[:, 1]
    y = val_set.tensors[1].to(dev)
    return {"true_f1": binary_f1_score(probs, y).item(), "true_auroc": binary_auroc(probs, y).item()}
# endregion


def train_rank(args) -> None:
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
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
    f1_metric, auroc_metric = BinaryF1Score().to(dev), BinaryAUROC().to(dev)
    # region: not counted (collects what run() returns)
    history, steps = {}, 0
    # endregion

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
            # region: not counted (collects what run() returns)
            steps += 1
            # endregion
        dist.all_reduce(totals)
        metrics = {"train_loss": totals[0] / totals[1]}

        model.eval()
        counts = torch.zeros(3, device=dev)
        per_batch = torch.zeros(4, device=dev)
        scores, labels = [], []
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                logits = model(x)
                probs = logits.softmax(dim=1)[:, 1]
                preds = (probs > 0.5).long()
                batch_counts = torch.stack([(preds * y).sum(), (preds * (1 - y)).sum(), ((1 - preds) * y).sum()])
                counts += batch_counts
                scores.append(probs)
                labels.append(y)
                f1_metric.update(probs, y)
                auroc_metric.update(probs, y)
                per_batch += torch.stack([loss_fn(logits, y), f1_from_counts(*batch_counts.float()), auroc(probs, y),
                                          torch.tensor(1.0, device=dev)]) * len(x)
        dist.all_reduce(counts)
        dist.all_reduce(per_batch)
        metrics["val_loss"] = per_batch[0] / per_batch[3]
        metrics["val_f1"] = f1_from_counts(*counts)
        metrics["val_auroc"] = auroc(gather(torch.cat(scores), world_size), gather(torch.cat(labels), world_size))
        metrics["tm_f1"], metrics["tm_auroc"] = f1_metric.compute(), auroc_metric.compute()
        metrics["batch_f1"], metrics["batch_auroc"] = per_batch[1] / per_batch[3], per_batch[2] / per_batch[3]
        f1_metric.reset()
        auroc_metric.reset()
        # region: not counted (the whole-set reference, and what run() returns)
        metrics.update(whole_set(model.module, val_set, dev))
        for key, value in metrics.items():
            history.setdefault(key, []).append(float(value))
        # endregion
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs}  " + "  ".join(f"{k} {float(v):.4f}" for k, v in metrics.items()),
                  flush=True)

    # region: not counted (collects what run() returns)
    report = {"rank": rank, "history": history, "steps": steps, "device": str(dev),
              "val_batches": [len(y) for y in labels], "val_samples": int(sum(len(y) for y in labels)),
              "state_dict": {k: v.detach().cpu() for k, v in model.module.state_dict().items()}}
    torch.save(report, Path(args.worker_dir) / f"rank{rank}.pt")
    dist.destroy_process_group()
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

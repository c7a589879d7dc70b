"""F1 and AUROC on a validation set split over processes, in plain PyTorch: torchmetrics objects in your loop, per-batch values all_reduced."""

import argparse
import csv
import os
import subprocess
import sys

import torch
import torch.distributed as dist
# Imported before init_process_group, not first by DistributedDataParallel (torch 2.13 imports it there,
# through torch._dynamo): torch.distributed.nn binds the default group into its functions' defaults when
# imported, a group held there outlives destroy_process_group(), and its gloo threads can then abort the
# finished rank at exit ("terminate called without an active exception").
import torch.distributed.nn  # noqa: F401
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

try:
    from torchmetrics.classification import BinaryAUROC, BinaryF1Score
    from torchmetrics.functional.classification import binary_auroc, binary_f1_score
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


def train(epochs: int, seed: int, device: str, batch_size: int, out_dir: str) -> nn.Module:
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    dev = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    torch.manual_seed(seed)
    train_set, val_set = make_data(seed)
    sampler = DistributedSampler(train_set, shuffle=True, seed=seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler)
    val_loader = DataLoader(val_set, batch_size=batch_size, sampler=DistributedSampler(val_set, shuffle=False))

    model = DistributedDataParallel(build_model().to(dev), device_ids=[dev.index] if cuda else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    f1_metric, auroc_metric = BinaryF1Score().to(dev), BinaryAUROC().to(dev)
    os.makedirs(out_dir, exist_ok=True)

    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        model.train()
        totals = torch.zeros(2, device=dev)
        for x, y in train_loader:
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals[0] += loss.detach() * len(x)
            totals[1] += len(x)
        dist.all_reduce(totals)
        metrics = {"train_loss": totals[0] / totals[1]}

        model.eval()
        per_batch = torch.zeros(4, device=dev)
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(dev), y.to(dev)
                logits = model(x)
                probs = logits.softmax(dim=1)[:, 1]
                f1_metric.update(probs, y)
                auroc_metric.update(probs, y)
                per_batch += torch.stack([loss_fn(logits, y), binary_f1_score(probs, y), binary_auroc(probs, y),
                                          torch.tensor(1.0, device=dev)]) * len(x)
        dist.all_reduce(per_batch)
        metrics["val_loss"] = per_batch[0] / per_batch[3]
        metrics["val_f1"], metrics["val_auroc"] = f1_metric.compute(), auroc_metric.compute()
        metrics["batch_f1"], metrics["batch_auroc"] = per_batch[1] / per_batch[3], per_batch[2] / per_batch[3]
        f1_metric.reset()
        auroc_metric.reset()
        if rank == 0:
            print(f"epoch {epoch + 1}/{epochs}  " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            with open(os.path.join(out_dir, "metrics.csv"), "a" if epoch else "w", newline="") as file:
                writer = csv.DictWriter(file, ["epoch", *metrics])
                if epoch == 0:
                    writer.writeheader()
                writer.writerow({"epoch": epoch, **{k: v.item() for k, v in metrics.items()}})
            torch.save({"model": model.module.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1},
                       os.path.join(out_dir, "checkpoint.pt"))

    # The DDP wrapper's reducer holds the group: release it first, so that destroy_process_group() ends the
    # group; ended later, by freeing the wrapper, its gloo threads can deadlock the rank.
    module = model.module
    del model
    dist.destroy_process_group()
    return module


def run(epochs: int = 3, seed: int = 0, device: str = "auto", devices: int = 2, batch_size: int = 32,
        out_dir: str = "metrics_pytorch", verbose: bool = False) -> dict:
    if epochs < 1 or devices < 1 or batch_size < 1:
        raise ValueError("--epochs, --devices and --batch-size must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    gpus = torch.cuda.device_count()
    if device == "cuda" and gpus < devices:
        raise ValueError(f"--device cuda needs {devices} CUDA GPUs, found {gpus}")
    device = "cuda" if device == "cuda" or (device == "auto" and gpus >= devices) else "cpu"
    job = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={devices}",
                          os.path.abspath(__file__), "--epochs", str(epochs), "--seed", str(seed), "--device", device,
                          "--batch-size", str(batch_size), "--out-dir", out_dir],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if verbose:
        print(job.stdout, end="")
    if job.returncode:
        raise RuntimeError(f"torchrun exited with {job.returncode}:\n{job.stdout[-3000:]}")

    model = build_model()
    model.load_state_dict(torch.load(os.path.join(out_dir, "checkpoint.pt"))["model"])
    with open(os.path.join(out_dir, "metrics.csv")) as file:
        rows = list(csv.DictReader(file))
    return {"model": model, "history": {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--devices", type=int, default=2, help="processes, one per device")
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--out-dir", default="metrics_pytorch")
    args = parser.parse_args(argv)
    if "LOCAL_RANK" in os.environ:  # one rank, started by torchrun
        train(args.epochs, args.seed, args.device, args.batch_size, args.out_dir)
        return 0
    try:
        run(args.epochs, args.seed, args.device, args.devices, args.batch_size, args.out_dir, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Data-parallel training with Lightning Fabric: Fabric(strategy="ddp") around your own loop, which runs on every rank."""

import argparse
import csv
import glob
import os
import subprocess
import sys

import torch
import torch.distributed as dist
from lightning_fabric import Fabric, seed_everything
from lightning_fabric.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, TensorDataset


class Shards(IterableDataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, shard_size: int = 32):
        self.shards = list(zip(x.split(shard_size), y.split(shard_size)))

    def __iter__(self):
        for x, y in self.shards[dist.get_rank()::dist.get_world_size()]:
            yield from zip(x, y)


def make_data(seed: int, n_train: int = 512, n_val: int = 160, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_train + n_val, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    return TensorDataset(x[:n_train], y[:n_train]), Shards(x[n_train:], y[n_train:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def train(epochs: int, seed: int, device: str, devices: int, batch_size: int, out_dir: str) -> nn.Module:
    fabric = Fabric(accelerator=device, devices=devices, strategy="ddp", loggers=CSVLogger(out_dir))
    fabric.launch()
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(epochs):
        model.train()
        totals = torch.zeros(2, device=fabric.device)
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            totals[0] += loss.detach() * len(x)
            totals[1] += len(x)
        totals = fabric.all_reduce(totals, reduce_op="sum")
        train_loss = (totals[0] / totals[1]).item()

        model.eval()
        totals = torch.zeros(2, device=fabric.device)
        with torch.no_grad():
            for x, y in val_loader:
                totals[0] += loss_fn(model(x), y) * len(x)
                totals[1] += len(x)
        totals = fabric.all_reduce(totals, reduce_op="sum")
        val_loss = (totals[0] / totals[1]).item()
        fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
        fabric.log_dict({"train_loss": train_loss, "val_loss": val_loss}, step=epoch)
        fabric.save(os.path.join(out_dir, "checkpoint.ckpt"),
                    {"model": model, "optimizer": optimizer, "epoch": epoch + 1})

    fabric.logger.finalize("success")
    # Lightning destroys the process group at exit only for NCCL; a gloo group left to the interpreter's
    # teardown can abort it, so end it here, as PyTorch asks of every rank. Release the DDP wrapper that
    # Fabric's module holds first: its reducer holds the group, which freeing it later could end in a deadlock.
    module = model.module
    del model
    dist.destroy_process_group()
    return module


def newest(folder: str, pattern: str) -> str:
    return max(glob.glob(os.path.join(folder, "**", pattern), recursive=True), key=os.path.getmtime)


def run(epochs: int = 3, seed: int = 0, device: str = "auto", devices: int = 2, batch_size: int = 32,
        out_dir: str = "ddp_fabric", verbose: bool = False) -> dict:
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
    model.load_state_dict(torch.load(os.path.join(out_dir, "checkpoint.ckpt"))["model"])
    with open(newest(out_dir, "metrics.csv")) as file:
        rows = list(csv.DictReader(file))
    history = {key: [float(row[key]) for row in rows if row[key]] for key in ("train_loss", "val_loss")}
    return {"model": model, "history": history}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--devices", type=int, default=2, help="processes, one per device")
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--out-dir", default="ddp_fabric")
    args = parser.parse_args(argv)
    if "LOCAL_RANK" in os.environ:  # one rank, started by torchrun
        train(args.epochs, args.seed, args.device, int(os.environ["WORLD_SIZE"]), args.batch_size, args.out_dir)
        return 0
    try:
        run(args.epochs, args.seed, args.device, args.devices, args.batch_size, args.out_dir, verbose=True)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Data-parallel training in plain PyTorch: `python pytorch_ddp.py` starts two processes with torch.multiprocessing.spawn; init_process_group, DistributedSampler, DistributedDataParallel."""

# region: not counted (the command line, and the site's run() that starts this file as a reader does)
import argparse
import re
import resource
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
# endregion

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, TensorDataset


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


def train(rank: int, args) -> None:
    # region: not counted (what this rank did, for the page)
    writes = record_writes(args.out_dir) if args.report_dir else []
    history = {"train_loss": [], "val_loss": []}
    # endregion
    cuda = args.device == "cuda"
    device = torch.device("cuda", rank) if cuda else torch.device("cpu")
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=args.devices)
    torch.manual_seed(args.seed)
    train_set, val_set = make_data(args.seed)
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    val_loader = DataLoader(val_set, batch_size=args.batch_size)

    model = DistributedDataParallel(build_model().to(device), device_ids=[rank] if cuda else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    metrics_file = os.path.join(args.out_dir, "metrics.csv")
    if rank == 0:
        os.makedirs(args.out_dir, exist_ok=True)
        with open(metrics_file, "w") as file:
            file.write("epoch,train_loss,val_loss\n")

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        totals = torch.zeros(2, device=device)
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals[0] += loss.detach() * len(x)
            totals[1] += len(x)
        dist.all_reduce(totals)
        train_loss = (totals[0] / totals[1]).item()

        model.eval()
        totals = torch.zeros(2, device=device)
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device), y.to(device)
                totals[0] += loss_fn(model(x), y) * len(x)
                totals[1] += len(x)
        dist.all_reduce(totals)
        val_loss = (totals[0] / totals[1]).item()
        if rank == 0:
            if args.verbose:
                print(f"epoch {epoch + 1}/{args.epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
            with open(metrics_file, "a") as file:
                file.write(f"{epoch},{train_loss},{val_loss}\n")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion

    if rank == 0:
        with open(os.path.join(args.out_dir, "checkpoint.pt"), "wb") as file:
            torch.save({"model": model.module.state_dict(), "optimizer": optimizer.state_dict(), "epoch": args.epochs},
                       file)
    # region: not counted (what this rank did, for the page)
    if args.report_dir:
        record = rank_record(rank, model.module, val_set, history, args.epochs * len(train_loader), len(sampler))
        torch.save({**record, "writes": writes}, Path(args.report_dir) / f"rank{rank}.pt")
    # endregion
    dist.destroy_process_group()


def launch(args) -> None:
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and torch.cuda.device_count() < args.devices:
        raise ValueError(f"--device cuda needs {args.devices} CUDA GPUs, found {torch.cuda.device_count()}")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")
    mp.spawn(train, args=(args,), nprocs=args.devices)


# region: not counted (the site's run(): it starts this file as a reader does and reads back what each rank saved)
def record_writes(folder: str) -> list:
    writes, folder = [], os.path.abspath(folder)

    def hook(event, args):
        if event == "open" and isinstance(args[0], str) and args[2] & (os.O_WRONLY | os.O_RDWR):
            path = os.path.abspath(args[0])
        elif event in ("os.rename", "os.replace"):
            path = os.path.abspath(os.fsdecode(args[1]))
        else:
            return
        if path.startswith(folder + os.sep) and writes[-1:] != [os.path.relpath(path, folder)]:
            writes.append(os.path.relpath(path, folder))

    sys.addaudithook(hook)
    return writes


def rank_record(rank: int, model: nn.Module, val_set, history: dict, steps: int, train_samples: int) -> dict:
    device = next(model.parameters()).device
    val_loss_sum, val_samples = 0.0, 0
    with torch.no_grad():
        for x, y in DataLoader(val_set, batch_size=32):
            val_loss_sum += nn.functional.cross_entropy(model(x.to(device)), y.to(device), reduction="sum").item()
            val_samples += len(y)
    return {"rank": rank, "history": history, "steps": steps, "train_samples": train_samples,
            "val_samples": val_samples, "val_loss_sum": val_loss_sum, "device": str(device),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}


def known_warnings() -> str:
    options = []
    for action, message, category, module, _ in warnings.filters:
        pattern = getattr(message, "pattern", message) or ""
        literal = re.sub(r"\\(.)", r"\1", pattern).split(",")[0]
        plain = literal and ":" not in literal and not re.search(r"(?<!\\)[.*+?^$|\[\](){}]", pattern.split(",")[0])
        if action == "ignore" and plain and not module and category.__module__ == "builtins":
            options.append(f"ignore:{literal}:{category.__name__}")
    return ",".join(options)


def terminal_text(output: str) -> str:
    return "\n".join(line.split("\r")[-1] for line in output.splitlines() if line.split("\r")[-1].strip())


def run(epochs: int = 3, seed: int = 0, device: str = "cpu", batch_size: int = 32, lr: float = 1e-3,
        devices: int = 2, verbose: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="ddp-") as tmp:
        command = [sys.executable, os.path.abspath(__file__), "--epochs", str(epochs), "--seed", str(seed),
                   "--device", device, "--batch-size", str(batch_size), "--lr", str(lr), "--devices", str(devices),
                   "--out-dir", "run", "--report-dir", "."] + ([] if verbose else ["--quiet"])
        env = {**os.environ, "PYTHONWARNINGS": ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"),
                                                                      known_warnings()]))}
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=tmp, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        if verbose:
            print(terminal_text(output))
        reports = [Path(tmp) / f"rank{rank}.pt" for rank in range(devices)]
        if proc.returncode != 0 or not all(p.is_file() for p in reports):
            raise RuntimeError(f"{Path(__file__).name} exited with code {proc.returncode}:\n{output[-3000:]}")
        ranks = [torch.load(p) for p in reports]
        files = sorted(str(p.relative_to(Path(tmp) / "run")) for p in (Path(tmp) / "run").rglob("*") if p.is_file())
    weights = [r.pop("state_dict") for r in ranks]
    spread = max((float((a - b).abs().max()) for w in weights[1:] for a, b in zip(weights[0].values(), w.values())),
                 default=0.0)
    return {"history": ranks[0]["history"], "state_dict": weights[0], "steps": ranks[0]["steps"],
            "device": ranks[0]["device"], "world_size": devices, "rank_weight_difference": spread, "files": files,
            "command": f"python {Path(__file__).name}", "ranks": [{k: v for k, v in r.items() if k != "history"}
                                                                  for r in ranks]}
# endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (gloo), cuda (nccl) or auto")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--devices", type=int, default=2, help="processes to start, one per device")
    parser.add_argument("--out-dir", default="ddp_pytorch", help="folder for the metrics and the checkpoint")
    parser.add_argument("--report-dir", help=argparse.SUPPRESS)
    parser.add_argument("--quiet", dest="verbose", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.devices < 1:
            raise ValueError("--epochs, --batch-size and --devices must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        launch(args)
    except ValueError as error:
        print("error:", " ".join(str(error).split()), file=sys.stderr)
        return 2
    print(f"done: {args.devices} processes on {args.device}; metrics and checkpoint in {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""Data-parallel training in PyTorch Lightning: `python lightning_ddp.py` and Trainer(strategy="ddp", devices=2) starts the second process."""

# region: not counted (the command line, and the site's run() that starts this file as a reader does)
import argparse
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning.loggers import CSVLogger
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


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), sync_dist=True, prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


# region: not counted (collects what run() returns and prints it for the page's log)
class History(pl.Callback):
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": []}

    def on_train_epoch_end(self, trainer, pl_module):
        for key in self.history:
            self.history[key].append(trainer.callback_metrics[key].item())
        if self.verbose:
            pl_module.print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
                            f"  train_loss {self.history['train_loss'][-1]:.4f}"
                            f"  val_loss {self.history['val_loss'][-1]:.4f}")
# endregion


def train(args) -> dict:
    # region: not counted (collects what run() returns)
    history = History(args.verbose)
    # endregion
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator=args.device,
        devices=args.devices,
        strategy="ddp",
        logger=CSVLogger(args.out_dir),
        enable_progress_bar=args.verbose,
        enable_model_summary=args.verbose,
        # region: not counted (collects what run() returns)
        callbacks=[history],
        # endregion
    )
    pl.seed_everything(args.seed)
    train_set, val_set = make_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=args.batch_size)

    module = Classifier(lr=args.lr)
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (what this rank did, for the page)
    return rank_record(trainer.global_rank, module.model, val_set, history.history, trainer.global_step,
                       len(trainer.train_dataloader.sampler))
    # endregion


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
    parser.add_argument("--out-dir", default="ddp_lightning", help="folder for the logs and checkpoints")
    parser.add_argument("--report-dir", help=argparse.SUPPRESS)
    parser.add_argument("--quiet", dest="verbose", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.devices < 1:
            raise ValueError("--epochs, --batch-size and --devices must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        writes = record_writes(args.out_dir) if args.report_dir else []
        record = train(args)
    except (ValueError, MisconfigurationException) as error:
        print("error:", " ".join(str(error).split()), file=sys.stderr)
        return 2
    if args.report_dir:
        torch.save({**record, "writes": writes}, Path(args.report_dir) / f"rank{record['rank']}.pt")
    if record["rank"] == 0:
        print(f"done: {args.devices} processes on {record['device']}; logs and checkpoints in {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

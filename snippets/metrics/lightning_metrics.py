"""F1 and AUROC on a validation set split over two processes, in PyTorch Lightning: self.log with a torchmetrics object, and sync_dist=True on a per-batch value."""

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
import pytorch_lightning as pl
import torch
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


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-2):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.val_f1 = BinaryF1Score()
        self.val_auroc = BinaryAUROC()

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        probs = logits.softmax(dim=1)[:, 1]
        self.val_f1.update(probs, y)
        self.val_auroc.update(probs, y)
        self.log("val_loss", self.loss_fn(logits, y), sync_dist=True)
        self.log("val_f1", self.val_f1)
        self.log("val_auroc", self.val_auroc)
        self.log("batch_f1", binary_f1_score(probs, y), sync_dist=True)
        self.log("batch_auroc", binary_auroc(probs, y), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


# region: not counted (the whole-set reference, computed on one process, and what run() returns)
def whole_set(network, val_set, dev):
    with torch.no_grad():
        probs = network(val_set.tensors[0].to(dev)).softmax(dim=1)[:, 1]
    y = val_set.tensors[1].to(dev)
    return {"true_f1": binary_f1_score(probs, y).item(), "true_auroc": binary_auroc(probs, y).item()}


class History(pl.Callback):
    def __init__(self, val_set):
        self.val_set = val_set
        self.history = {}
        self.val_batches = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.val_batches = self.val_batches[:batch_idx] + [len(batch[1])]

    def on_train_epoch_end(self, trainer, pl_module):
        metrics = {k: v.item() for k, v in trainer.callback_metrics.items()}
        metrics.update(whole_set(pl_module.model, self.val_set, pl_module.device))
        for key, value in metrics.items():
            self.history.setdefault(key, []).append(value)
        pl_module.print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}  "
                        + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()), flush=True)
# endregion


def train_rank(args) -> None:
    pl.seed_everything(args.seed)
    train_set, val_set = make_data(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=args.batch_size)

    module = Classifier(lr=args.lr)
    # region: not counted (collects what run() returns)
    history = History(val_set)
    # endregion
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator="gpu" if args.device == "cuda" else "cpu",
        strategy="ddp",
        devices=int(os.environ["LOCAL_WORLD_SIZE"]),
        num_nodes=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        # region: not counted (collects what run() returns)
        callbacks=[history],
        # endregion
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    report = {"rank": trainer.global_rank, "history": history.history, "steps": trainer.global_step,
              "device": str(module.device), "val_batches": history.val_batches,
              "val_samples": sum(history.val_batches),
              "state_dict": {k: v.detach().cpu() for k, v in module.model.state_dict().items()}}
    torch.save(report, Path(args.worker_dir) / f"rank{trainer.global_rank}.pt")
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

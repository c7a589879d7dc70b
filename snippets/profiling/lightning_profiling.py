"""Profiling a Lightning training run: Trainer(profiler=...) with Lightning's PyTorchProfiler (torch.profiler) or the simple hook timer."""

import argparse
import os
import sys
import tempfile

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.profilers import PyTorchProfiler, SimpleProfiler
from torch import nn
from torch.profiler import ProfilerAction
from torch.utils.data import DataLoader, TensorDataset

PL_PREFIX = "[pl][profile]"


def make_data(seed: int, n: int = 128, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.verbose = verbose
        # region: not counted (collects the values run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        # region: not counted (collects the values run() returns)
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        # endregion
        if self.verbose:
            self.print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                       f"  train_loss {metrics['train_loss']:.4f}  val_loss {metrics['val_loss']:.4f}")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def record_every_step(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def make_profiler(name: str, dirpath: str):
    if name == "simple":
        return SimpleProfiler(dirpath=dirpath, filename="simple")
    if name == "pytorch":
        return PyTorchProfiler(dirpath=dirpath, filename="pytorch", export_to_chrome=False,
                               schedule=record_every_step)
    raise ValueError(f"unknown profiler {name!r}: use pytorch or simple")


def hook_timings(profiler, averages, limit: int = 12) -> list:
    if isinstance(profiler, SimpleProfiler):
        rows = [[name, len(d), round(1000 * sum(d), 3)] for name, d in profiler.recorded_durations.items()]
    else:
        rows = [[e.key[len(PL_PREFIX):], e.count, round(e.cpu_time_total / 1000, 3)]
                for e in averages if e.key.startswith(PL_PREFIX)]
    rows.sort(key=lambda row: row[2], reverse=True)
    return rows[:limit]


def top_operators(averages, limit: int = 12) -> list:
    ops = [e for e in averages if e.key.startswith("aten::")]
    ops.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [[e.key, e.count, round(e.self_cpu_time_total / 1000, 3)] for e in ops[:limit]]


# region: not counted (collects the values run() returns)
def operator_counts(averages) -> dict:
    return {e.key: e.count for e in averages if e.key.startswith("aten::")}
# endregion


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, profiler: str = "pytorch", verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    with tempfile.TemporaryDirectory() as folder:
        chosen = make_profiler(profiler, folder)
        module = Classifier(lr=lr, verbose=verbose)
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator=device,
            devices=1,
            profiler=chosen,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=verbose,
            enable_model_summary=verbose,
            num_sanity_val_steps=0,
        )
        trainer.fit(module, train_loader, val_loader)
        averages = chosen.function_events.key_averages() if isinstance(chosen, PyTorchProfiler) else []
        hooks = hook_timings(chosen, averages)
        top_ops = top_operators(averages)
        report_files = sorted(os.listdir(folder))

    if verbose:
        print(f"slowest Lightning actions ({profiler} profiler, total ms):")
        for name, calls, ms in hooks[:5]:
            print(f"  {name:<50} {calls:>4} calls {ms:>9.3f}")
        if top_ops:
            print("top operators by self CPU time (ms):")
            for name, calls, ms in top_ops[:5]:
                print(f"  {name:<28} {calls:>6} calls  {ms:>9.3f}")

    # region: not counted (collects the values run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "profiler": profiler, "top_ops": top_ops,
            "op_counts": operator_counts(averages), "hooks": hooks, "report_files": report_files}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--profiler", default="pytorch", help="pytorch or simple")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.profiler, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

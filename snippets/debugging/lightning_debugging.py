"""Debugging switches in PyTorch Lightning: fast_dev_run, overfit_batches, limit_*_batches and detect_anomaly."""

import argparse
import sys
import warnings

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, inject_nan_at_step: int = 0, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.inject_nan_at_step = inject_nan_at_step
        self.verbose = verbose
        self.step_in_progress = 0
        # region: not counted (collects the values run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.train_batches, self.val_batches = 0, 0
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.step_in_progress = self.global_step + 1
        loss = self.loss_fn(self.model(x), y)
        if self.step_in_progress == self.inject_nan_at_step:
            loss = torch.sqrt(-loss)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    # region: not counted (collects the values run() returns)
    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.train_batches += 1
    # endregion

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))
        # region: not counted (collects the values run() returns)
        self.val_batches += 1
        # endregion

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


def forward_line(trace: str) -> str:
    lines = [line.strip() for line in trace.splitlines()]
    files = [i for i, line in enumerate(lines) if line.startswith("File ")]
    if not files:
        return ""
    i = files[-1]
    where = lines[i].split(", ")
    return f"{where[1]} {where[2]}: {lines[i + 1]}" if len(where) > 2 and i + 1 < len(lines) else lines[i]


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        fast_dev_run: bool = False, overfit_batches: int = 0, limit_train_batches: int = 0,
        limit_val_batches: int = 0, detect_anomaly: bool = False, inject_nan_at_step: int = 0,
        verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=not overfit_batches,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr, inject_nan_at_step=inject_nan_at_step, verbose=verbose)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        fast_dev_run=fast_dev_run,
        overfit_batches=overfit_batches,
        limit_train_batches=limit_train_batches or None,
        limit_val_batches=limit_val_batches or None,
        detect_anomaly=detect_anomaly,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
        num_sanity_val_steps=0,
    )
    caught = None
    with warnings.catch_warnings(record=True) as seen:
        warnings.filterwarnings("always", message="Error detected in")
        try:
            trainer.fit(module, train_loader, val_loader)
        except RuntimeError as error:
            caught = {"step": module.step_in_progress, "epoch": module.current_epoch + 1,
                      "error": str(error).splitlines()[0]}
    for warning in seen:
        if caught and str(warning.message).startswith("Error detected in"):
            caught["forward_call"] = forward_line(str(warning.message))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)

    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    nan_weights = any(bool(v.isnan().any()) for v in state.values())
    if verbose and caught:
        print(f"anomaly caught at step {caught['step']} (epoch {caught['epoch']}): {caught['error']}")
        print(f"forward call that produced it: {caught.get('forward_call', '?')}")
    if verbose and nan_weights:
        print("warning: the weights contain NaN")
    # region: not counted (collects the values run() returns)
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "train_batches": module.train_batches,
            "val_batches": module.val_batches, "caught": caught,
            "nan_weights": nan_weights}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--fast-dev-run", action="store_true", help="one training and one validation batch")
    parser.add_argument("--overfit-batches", type=int, default=0,
                        help="train and validate on the first N batches of each loader, every epoch")
    parser.add_argument("--limit-train-batches", type=int, default=0, help="at most N training batches an epoch")
    parser.add_argument("--limit-val-batches", type=int, default=0, help="at most N validation batches an epoch")
    parser.add_argument("--detect-anomaly", action="store_true", help="stop at the first NaN in the backward pass")
    parser.add_argument("--inject-nan-at-step", type=int, default=0, help="make the loss NaN at step N (1-based)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    if min(args.overfit_batches, args.limit_train_batches, args.limit_val_batches, args.inject_nan_at_step) < 0:
        print("error: batch limits and --inject-nan-at-step must not be negative", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.fast_dev_run,
                     args.overfit_batches, args.limit_train_batches, args.limit_val_batches,
                     args.detect_anomaly, args.inject_nan_at_step, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps, {result['train_batches']} training and "
          f"{result['val_batches']} validation batches on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""A warm-up schedule in PyTorch Lightning: configure_optimizers returns it, and its "interval" says when the Trainer steps it."""

# region: not counted (the command line)
import argparse
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

INTERVALS = ("step", "epoch")


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def warmup_then_decay(warmup: int, total: int):
    return lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))


class Classifier(pl.LightningModule):
    def __init__(self, interval: str, warmup: int, lr: float, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.interval = interval
        self.warmup = warmup
        self.lr = lr
        self.verbose = verbose
        # region: not counted (collects what run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.lr_trace = []
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        # region: not counted (collects what run() returns)
        self.lr_trace.append(self.optimizers().param_groups[0]["lr"])
        # endregion
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        # region: not counted (collects what run() returns)
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        # endregion
        if self.verbose:
            self.print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                       f"  next lr {self.optimizers().param_groups[0]['lr']:.4f}"
                       f"  train_loss {metrics['train_loss']:.4f}  val_loss {metrics['val_loss']:.4f}")

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        total_steps = self.trainer.estimated_stepping_batches
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay(self.warmup, total_steps))
        if self.interval == "step":
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


def run(epochs: int = 4, seed: int = 0, device: str = "auto", interval: str = "step", warmup: int = 20,
        batch_size: int = 32, lr: float = 0.1, verbose: bool = False) -> dict:
    if interval not in INTERVALS:
        raise ValueError(f"unknown interval {interval!r}: use step or epoch")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(interval, warmup, lr, verbose=verbose)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    config = trainer.lr_scheduler_configs[0]
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "lr_trace": module.lr_trace,
            "scheduler_steps": config.scheduler.last_epoch, "total_steps": trainer.estimated_stepping_batches,
            "configured_interval": config.interval}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--interval", default="step",
                        help='step ("interval": "step") or epoch (the scheduler returned without an interval)')
    parser.add_argument("--warmup", type=int, default=20, help="optimizer steps of linear warm-up")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.warmup < 1 or args.lr <= 0:
            raise ValueError("--epochs, --batch-size and --warmup must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.interval, args.warmup, args.batch_size, args.lr,
                     verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps, {result['scheduler_steps']} scheduler steps"
          f" on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

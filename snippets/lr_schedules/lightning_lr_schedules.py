"""Learning-rate schedules in PyTorch Lightning: configure_optimizers says when the Trainer steps the scheduler."""

import argparse

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SCHEDULES = ("step", "onecycle")


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, schedule: str = "onecycle", lr: float = 0.1):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.schedule = schedule
        self.lr = lr

    def on_train_epoch_start(self):
        self.log("lr", self.lr_schedulers().get_last_lr()[0], prog_bar=True)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        if self.schedule == "step":
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.lr, total_steps=self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def run(epochs: int = 8, seed: int = 0, device: str = "auto", schedule: str = "onecycle",
        batch_size: int = 32, lr: float = 0.1, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: use step or onecycle")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(schedule, lr)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)
    return {"model": module.model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--schedule", default="onecycle", choices=SCHEDULES,
                        help="step (StepLR, per epoch) or onecycle (OneCycleLR, per step)")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.schedule, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

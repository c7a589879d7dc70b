"""Early stopping in PyTorch Lightning: the EarlyStopping callback, patience and min_delta on the validation loss."""

import argparse
import sys

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.callbacks import EarlyStopping
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
    def __init__(self, lr: float = 0.03, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        # region: not counted (the values run() returns)
        self.verbose = verbose
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

    # region: not counted (the values run() returns, printed as the other programs print them)
    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        if self.verbose:
            self.print(f"epoch {self.current_epoch}  train_loss {self.history['train_loss'][-1]:.4f}"
                       f"  val_loss {self.history['val_loss'][-1]:.4f}")
    # endregion

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def run(epochs: int = 20, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.03,
        patience: int = 3, min_delta: float = 0.002, verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr, verbose=verbose)
    early_stopping = EarlyStopping(monitor="val_loss", mode="min", patience=patience, min_delta=min_delta,
                                   verbose=verbose)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, callbacks=[early_stopping], logger=False,
                         enable_checkpointing=False, enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (the values run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "stopped_epoch": early_stopping.stopped_epoch if trainer.should_stop else None,
            "epochs_run": len(module.history["val_loss"]), "best_score": early_stopping.best_score.item(),
            "wait_count": early_stopping.wait_count}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20, help="the most epochs to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--min-delta", type=float, default=0.002)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.patience < 1 or args.min_delta < 0:
        print("error: --epochs, --batch-size and --patience must be at least 1, --lr positive and"
              " --min-delta not negative", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.patience, args.min_delta,
                     verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    where = "never stopped early" if result["stopped_epoch"] is None else f"stopped at epoch {result['stopped_epoch']}"
    print(f"done: {where}, {result['epochs_run']} of {args.epochs} epochs run, {result['steps']} optimizer steps")
    return 0
# endregion


if __name__ == "__main__":
    raise SystemExit(main())

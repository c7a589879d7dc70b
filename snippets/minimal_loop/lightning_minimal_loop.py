"""The minimal training loop in PyTorch Lightning: the same model in a LightningModule, run by a Trainer."""

# region: not counted (the command line)
import argparse
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

import pytorch_lightning as pl
import torch
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
    def __init__(self, lr: float = 1e-3):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

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


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr)
    # region: not counted (collects what run() returns)
    history = History(verbose)
    # endregion
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
        # region: not counted (collects what run() returns)
        callbacks=[history],
        # endregion
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": history.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device)}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

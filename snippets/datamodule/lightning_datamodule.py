"""Real data in PyTorch Lightning: scikit-learn's bundled digits in a LightningDataModule, trained and tested by a Trainer."""

# region: not counted (the command line)
import argparse
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

from importlib import resources

import pytorch_lightning as pl
import torch
try:
    from sklearn.datasets import load_digits
except ImportError:
    sys.exit("error: this program needs scikit-learn (for its bundled digits data): pip install scikit-learn")
from torch import nn
from torch.utils.data import DataLoader, Dataset


class DigitsDataset(Dataset):
    def __init__(self, features: torch.Tensor, targets: torch.Tensor):
        self.features = features
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        return self.features[index], self.targets[index]


class DigitsDataModule(pl.LightningDataModule):
    def __init__(self, batch_size: int = 64, seed: int = 0):
        super().__init__()
        self.batch_size = batch_size
        self.seed = seed
        self.datasets = None

    def prepare_data(self):
        if not (resources.files("sklearn.datasets.data") / "digits.csv.gz").is_file():
            raise FileNotFoundError("scikit-learn's bundled digits data (digits.csv.gz) is missing")

    def setup(self, stage: str):
        if self.datasets is not None:
            return
        digits = load_digits()
        x = torch.tensor(digits.data, dtype=torch.float32)
        y = torch.tensor(digits.target, dtype=torch.long)
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        held_out = len(x) // 5
        test, val, train = order[:held_out], order[held_out:2 * held_out], order[2 * held_out:]
        mean = x[train].mean(dim=0)
        std = x[train].std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        self.datasets = {name: DigitsDataset((x[rows] - mean) / std, y[rows])
                         for name, rows in (("train", train), ("val", val), ("test", test))}

    def train_dataloader(self):
        return DataLoader(self.datasets["train"], batch_size=self.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        return DataLoader(self.datasets["val"], batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.datasets["test"], batch_size=self.batch_size)


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-2):
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
        logits = self.model(x)
        self.log("val_loss", self.loss_fn(logits, y), prog_bar=True)
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean(), prog_bar=True)

    def test_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self.log("test_loss", self.loss_fn(logits, y))
        self.log("test_acc", (logits.argmax(dim=1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


# region: not counted (collects what run() returns and prints it for the page's log)
class History(pl.Callback):
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": [], "val_acc": []}

    def on_train_epoch_end(self, trainer, pl_module):
        for key in self.history:
            self.history[key].append(trainer.callback_metrics[key].item())
        if self.verbose:
            pl_module.print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
                            f"  train_loss {self.history['train_loss'][-1]:.4f}"
                            f"  val_loss {self.history['val_loss'][-1]:.4f}  val_acc {self.history['val_acc'][-1]:.4f}")


def record_calls(datamodule: pl.LightningDataModule) -> list:
    calls = []
    for name in ("prepare_data", "setup", "train_dataloader", "val_dataloader", "test_dataloader"):
        def recorded(*args, name=name, hook=getattr(datamodule, name), **kwargs):
            calls.append(":".join([name, *args, *kwargs.values()]))
            return hook(*args, **kwargs)
        setattr(datamodule, name, recorded)
    return calls
# endregion


def run(epochs: int = 8, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    datamodule = DigitsDataModule(batch_size=batch_size, seed=seed)
    module = Classifier(lr=lr)
    # region: not counted (collects what run() returns)
    calls = record_calls(datamodule)
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
    trainer.fit(module, datamodule=datamodule)
    tested = trainer.test(module, datamodule=datamodule, verbose=verbose)[0]

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": history.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "test_loss": tested["test_loss"], "test_acc": tested["test_acc"],
            "split_sizes": {name: len(data) for name, data in datamodule.datasets.items()},
            "datamodule_calls": calls}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
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

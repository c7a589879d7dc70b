"""Real data in PyTorch Lightning: scikit-learn's bundled digits in a LightningDataModule, trained and tested by a Trainer."""

import argparse
import sys
from importlib import resources

import pytorch_lightning as pl
import torch
from sklearn.datasets import load_digits
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
        self.calls = []

    def prepare_data(self):
        self.calls.append("prepare_data")
        if not (resources.files("sklearn.datasets.data") / "digits.csv.gz").is_file():
            raise FileNotFoundError("scikit-learn's bundled digits data (digits.csv.gz) is missing")

    def setup(self, stage: str):
        self.calls.append("setup:" + stage)
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
        self.calls.append("train_dataloader")
        return DataLoader(self.datasets["train"], batch_size=self.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        self.calls.append("val_dataloader")
        return DataLoader(self.datasets["val"], batch_size=self.batch_size)

    def test_dataloader(self):
        self.calls.append("test_dataloader")
        return DataLoader(self.datasets["test"], batch_size=self.batch_size)


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-2, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": [], "val_acc": []}

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self.log("val_loss", self.loss_fn(logits, y))
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean())

    def test_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self.log("test_loss", self.loss_fn(logits, y))
        self.log("test_acc", (logits.argmax(dim=1) == y).float().mean())

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        for key in self.history:
            self.history[key].append(metrics[key].item())
        if self.verbose:
            print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                  f"  train_loss {self.history['train_loss'][-1]:.4f}"
                  f"  val_loss {self.history['val_loss'][-1]:.4f}  val_acc {self.history['val_acc'][-1]:.4f}")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def resolve_accelerator(name: str) -> str:
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return "gpu" if name == "cuda" else "cpu"


def run(epochs: int = 8, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    accelerator = resolve_accelerator(device)
    pl.seed_everything(seed, verbose=False)
    datamodule = DigitsDataModule(batch_size=batch_size, seed=seed)
    module = Classifier(lr=lr, verbose=verbose)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=datamodule)
    tested = trainer.test(module, datamodule=datamodule, verbose=False)[0]
    if verbose:
        print(f"test: test_loss {tested['test_loss']:.4f}  test_acc {tested['test_acc']:.4f}")
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "test_loss": tested["test_loss"], "test_acc": tested["test_acc"],
            "split_sizes": {name: len(data) for name, data in datamodule.datasets.items()},
            "datamodule_calls": datamodule.calls}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, verbose=True)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

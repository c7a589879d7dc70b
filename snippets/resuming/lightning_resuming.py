"""Resuming an interrupted run with Lightning: ModelCheckpoint(save_last=True) and Trainer.fit(ckpt_path="last"), plus a callback for the RNG states it does not save."""

import argparse
import shutil
import warnings

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException
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
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 0.01):
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

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)]


class RandomState(Callback):
    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def state_dict(self):
        state = {"torch": torch.get_rng_state(), "loader": self.generator.get_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state):
        torch.set_rng_state(state["torch"])
        if "cuda" in state:
            torch.cuda.set_rng_state_all(state["cuda"])
        self.generator.set_state(state["loader"])


def train(epochs: int, seed: int, device: str, ckpt_dir: str, resume: bool = False,
          verbose: bool = False) -> Classifier:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=32)

    module = Classifier()
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, monitor="val_acc", mode="max", save_last=True)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1,
                         callbacks=[checkpoint, RandomState(generator)], logger=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Checkpoint directory .* exists and is not empty")
        trainer.fit(module, train_loader, val_loader, ckpt_path="last" if resume else None)
    return module


def run(epochs: int = 8, seed: int = 0, device: str = "auto", stop_after: int = 0,
        ckpt_dir: str = "checkpoints_lightning", verbose: bool = False) -> dict:
    if epochs < 1 or not 0 <= stop_after < epochs:
        raise ValueError("--epochs must be at least 1 and --stop-after between 0 and --epochs - 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    if stop_after:
        train(stop_after, seed, device, ckpt_dir, verbose=verbose)
        if verbose:
            print(f"-- interrupted after {stop_after} epochs; a fresh start resumes from {ckpt_dir}/last.ckpt")
    module = train(epochs, seed, device, ckpt_dir, resume=stop_after > 0, verbose=verbose)
    return {"model": module.model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--stop-after", type=int, help="interrupt after this many epochs, then resume (default: half)")
    parser.add_argument("--ckpt-dir", default="checkpoints_lightning")
    args = parser.parse_args(argv)
    try:
        stop_after = args.epochs // 2 if args.stop_after is None else args.stop_after
        run(args.epochs, args.seed, args.device, stop_after, args.ckpt_dir, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

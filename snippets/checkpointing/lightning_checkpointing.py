"""Keeping the best k checkpoints by validation loss, plus last.ckpt, with Lightning's ModelCheckpoint."""

import argparse
import os

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 0.03):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def clear_checkpoints(ckpt_dir: str) -> None:
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in os.listdir(ckpt_dir):
        if name.endswith(".ckpt"):
            os.remove(os.path.join(ckpt_dir, name))


def run(epochs: int = 10, seed: int = 0, device: str = "auto", save_top_k: int = 3,
        ckpt_dir: str = "checkpoints_lightning", verbose: bool = False) -> dict:
    if epochs < 1 or save_top_k < 1:
        raise ValueError("--epochs and --save-top-k must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)
    clear_checkpoints(ckpt_dir)

    module = Classifier()
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, filename="{epoch:02d}", monitor="val_loss",
                                 save_top_k=save_top_k, save_last=True)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, callbacks=[checkpoint], logger=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)

    restored = Classifier.load_from_checkpoint(checkpoint.best_model_path, map_location=module.device)
    restored.eval()
    with torch.no_grad():
        predictions = restored.model(val_set.tensors[0].to(restored.device)).cpu()
    return {"model": module.model, "best_model_path": checkpoint.best_model_path, "predictions": predictions}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--save-top-k", type=int, default=3)
    parser.add_argument("--ckpt-dir", default="checkpoints_lightning", help=".ckpt files already in it are replaced")
    args = parser.parse_args(argv)
    try:
        result = run(args.epochs, args.seed, args.device, args.save_top_k, args.ckpt_dir, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    print(f"best checkpoint: {result['best_model_path']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

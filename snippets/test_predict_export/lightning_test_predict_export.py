"""Test, predict and ship in PyTorch Lightning: trainer.test with the best checkpoint, trainer.predict with a prediction writer, torch.export."""

import argparse
import shutil
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 640, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    return (TensorDataset(x[:409], y[:409]), TensorDataset(x[409:512], y[409:512]),
            TensorDataset(x[512:], y[512:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 0.03):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self(x), y), prog_bar=True)

    def test_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("test_loss", self.loss_fn(logits, y))
        self.log("test_acc", (logits.argmax(dim=1) == y).float().mean())

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class PredictionWriter(BasePredictionWriter):
    def __init__(self, path: Path):
        super().__init__(write_interval="epoch")
        self.path = path

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        torch.save(torch.cat(predictions), self.path)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.03,
        test_with: str = "best", out_dir: str = ".", verbose: bool = False) -> dict:
    if epochs < 1 or test_with not in ("best", "final"):
        raise ValueError("--epochs must be at least 1 and --test-with best or final")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set, test_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)
    test_loader = DataLoader(test_set, batch_size=batch_size)
    predict_loader = DataLoader(TensorDataset(test_set.tensors[0]), batch_size=batch_size)
    out = Path(out_dir)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)

    module = Classifier(lr=lr)
    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", monitor="val_loss")
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False,
                         callbacks=[checkpoint, PredictionWriter(out / "predictions.pt")],
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)
    if test_with == "best":
        metrics = trainer.test(ckpt_path="best", dataloaders=test_loader, verbose=verbose)[0]
    else:
        metrics = trainer.test(module, dataloaders=test_loader, verbose=verbose)[0]
    trainer.predict(module, dataloaders=predict_loader, return_predictions=False)

    module.cpu().eval()
    exported = torch.export.export(module, (test_set.tensors[0][:8],),
                                   dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(exported, out / "model.pt2")
    return {"model": module.model, "best_val_loss": checkpoint.best_model_score.item(),
            "test_loss": metrics["test_loss"], "test_accuracy": metrics["test_acc"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--test-with", default="best", help="best (the best validation epoch's weights) or final")
    parser.add_argument("--out-dir", default=".", help="folder for the files written (default: here)")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, test_with=args.test_with, out_dir=args.out_dir, verbose=True)
    except (ValueError, OSError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

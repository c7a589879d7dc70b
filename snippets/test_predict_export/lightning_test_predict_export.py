"""Test, predict and ship in PyTorch Lightning: trainer.test with the best checkpoint, trainer.predict with a prediction writer, torch.export."""

# region: not counted (the command line)
import argparse
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

import shutil
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 640, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
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
        # region: not counted (collects what run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.verbose = False
        # endregion

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("test_loss", self.loss_fn(logits, y))
        self.log("test_acc", (logits.argmax(dim=1) == y).float().mean())

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    # region: not counted (collects what run() returns, printed as the other programs print it)
    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        if self.verbose:
            self.print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                       f"  train_loss {self.history['train_loss'][-1]:.4f}  val_loss {self.history['val_loss'][-1]:.4f}")
    # endregion

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
    # region: not counted (collects what run() returns)
    module.verbose = verbose
    # endregion
    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", monitor="val_loss")
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False,
                         callbacks=[checkpoint, PredictionWriter(out / "predictions.pt")],
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    final_state = {k: v.detach().cpu().clone() for k, v in module.model.state_dict().items()}
    # endregion
    if test_with == "best":
        metrics = trainer.test(ckpt_path="best", dataloaders=test_loader, verbose=verbose)[0]
    else:
        metrics = trainer.test(module, dataloaders=test_loader, verbose=verbose)[0]
    trainer.predict(module, dataloaders=predict_loader, return_predictions=False)

    module.cpu().eval()
    exported = torch.export.export(module, (test_set.tensors[0][:8],),
                                   dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(exported, out / "model.pt2")

    # region: not counted (the page's check: the exported program, loaded back, against the predictions)
    predictions = torch.load(out / "predictions.pt", weights_only=True)
    shipped = torch.export.load(out / "model.pt2").module()
    with torch.no_grad():
        exported_predictions = shipped(test_set.tensors[0])
        on_cpu = module(test_set.tensors[0])
    best_epoch = torch.load(checkpoint.best_model_path, weights_only=True)["epoch"] + 1
    if verbose:
        print(f"wrote predictions.pt {tuple(predictions.shape)} and model.pt2; the exported program computes "
              f"{'bitwise' if torch.equal(exported_predictions, on_cpu) else 'NOT'} the network's CPU logits")
    return {"history": module.history, "state_dict": final_state, "steps": trainer.global_step,
            "device": str(trainer.strategy.root_device), "best_epoch": best_epoch,
            "tested_epoch": best_epoch if test_with == "best" else epochs,
            "test_loss": metrics["test_loss"], "test_accuracy": metrics["test_acc"], "predictions": predictions,
            "exported_predictions": exported_predictions,
            "export_identical": torch.equal(exported_predictions, on_cpu)}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--test-with", default="best", help="best (the best validation epoch's weights) or final")
    parser.add_argument("--out-dir", default=".", help="folder for the files written (default: here)")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        if args.test_with not in ("best", "final"):
            raise ValueError(f"--test-with {args.test_with!r}: use best or final")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.test_with, args.out_dir,
                     verbose=True)
    except (ValueError, OSError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: tested epoch {result['tested_epoch']}; wrote checkpoints/, predictions.pt and model.pt2 in "
          f"{args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""Hyperparameters in PyTorch Lightning: save_hyperparameters() in the checkpoint, load_from_checkpoint() to rebuild."""

import argparse
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model(hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 2))


class Classifier(pl.LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(self.hparams.hidden)
        self.loss_fn = nn.CrossEntropyLoss()
        # region: not counted (the values run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.verbose = False
        # endregion

    def forward(self, x):
        return self.model(x)

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
            self.print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                       f"  train_loss {self.history['train_loss'][-1]:.4f}  val_loss {self.history['val_loss'][-1]:.4f}")
    # endregion

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


# region: not counted (the page's check: the rebuilt model predicts what the trained one did)
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x).cpu()
# endregion


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        hidden: int = 16, ckpt_dir: str = ".", verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(hidden=hidden, lr=lr)
    # region: not counted (the values run() returns)
    module.verbose = verbose
    # endregion
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)

    path = Path(ckpt_dir) / "lightning_model.ckpt"
    trainer.save_checkpoint(path, weights_only=False)
    restored = Classifier.load_from_checkpoint(path, map_location=module.device)

    # region: not counted (the page's check: the rebuilt model predicts what the trained one did)
    dev = module.device
    checkpoint = torch.load(path, map_location=dev, weights_only=True)
    x_val = val_set.tensors[0].to(dev)
    before, after = predict(module, x_val), predict(restored, x_val)
    identical = torch.equal(before, after)
    if verbose:
        print(f"saved {path.name}: hyperparameters {checkpoint['hyper_parameters']}")
        print(f"reloaded model predicts {'bitwise the same' if identical else 'DIFFERENTLY'}"
              f" on {len(x_val)} validation rows")
    state = {k: v.detach().cpu() for k, v in restored.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step, "device": str(dev),
            "checkpoint": path.name, "checkpoint_keys": sorted(checkpoint), "checkpoint_bytes": path.stat().st_size,
            "saved_hparams": dict(checkpoint["hyper_parameters"]), "predictions": after,
            "reload_identical": identical, "reload_difference": float((before - after).abs().max())}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=16, help="width of the hidden layer")
    parser.add_argument("--ckpt-dir", default=".", help="folder for the checkpoint (default: here)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.hidden < 1:
        print("error: --epochs, --batch-size and --hidden must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.hidden,
                     args.ckpt_dir, verbose=True)
    except (ValueError, MisconfigurationException, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0
# endregion


if __name__ == "__main__":
    raise SystemExit(main())

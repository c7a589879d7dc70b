"""Several validation sets in PyTorch Lightning: a list of val dataloaders, validation_step(..., dataloader_idx)."""

import argparse

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

VAL_SETS = ("clean", "noisy")


def make_data(seed: int, n: int = 512, features: int = 10, noise: float = 1.0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    noisy = x[split:] + noise * torch.randn(n - split, features, generator=generator)
    return (TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:]),
            TensorDataset(noisy, y[split:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, add_dataloader_idx: bool = True):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.add_dataloader_idx = add_dataloader_idx

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        logits = self.model(x)
        suffix = "" if self.add_dataloader_idx else f"_{VAL_SETS[dataloader_idx]}"
        self.log_dict({f"val_loss{suffix}": self.loss_fn(logits, y),
                       f"val_acc{suffix}": (logits.argmax(dim=1) == y).float().mean()},
                      prog_bar=True, add_dataloader_idx=self.add_dataloader_idx)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, add_dataloader_idx: bool = True, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, clean_set, noisy_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loaders = [DataLoader(clean_set, batch_size=batch_size), DataLoader(noisy_set, batch_size=batch_size)]

    module = Classifier(lr=lr, add_dataloader_idx=add_dataloader_idx)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loaders)
    metrics = {name: value.item() for name, value in trainer.callback_metrics.items()}
    if verbose:
        print("after fit: " + "  ".join(f"{name} {value:.4f}" for name, value in metrics.items()))
    return {"model": module.model, "metrics": metrics}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--no-dataloader-idx", action="store_true",
                        help="name each set's metrics yourself (self.log(..., add_dataloader_idx=False))")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, add_dataloader_idx=not args.no_dataloader_idx, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

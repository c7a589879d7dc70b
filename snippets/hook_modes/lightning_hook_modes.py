"""Train and eval modes in PyTorch Lightning: the Trainer switches to eval() and no_grad() for validation and restores the modes afterwards."""

import argparse

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(n, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


def probe(model: nn.Module, x: torch.Tensor, restore_mode: bool = True) -> torch.Tensor:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        value = model(x).softmax(dim=1)[:, 1].mean()
    if restore_mode:
        model.train(was_training)
    return value


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
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class Probe(pl.Callback):
    def __init__(self, x: torch.Tensor, restore_mode: bool = True):
        self.x = x
        self.restore_mode = restore_mode

    def on_train_epoch_end(self, trainer, pl_module):
        value = probe(pl_module.model, self.x.to(pl_module.device), self.restore_mode)
        pl_module.log("probe", value, prog_bar=True)


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, restore_mode: bool = True, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1,
                         callbacks=[Probe(val_set.tensors[0][:32], restore_mode)], logger=False,
                         enable_checkpointing=False, enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)
    return {"model": module.model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--leave-eval", action="store_true",
                        help="the probe at the end of each epoch leaves the network in eval mode")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, restore_mode=not args.leave_eval, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

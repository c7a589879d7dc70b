"""Weights in and out of PyTorch Lightning: a .ckpt into a plain nn.Module, plain weights into a LightningModule and into a .ckpt without fit."""

import argparse
from pathlib import Path

import pytorch_lightning as pl
import torch
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
    def __init__(self, lr: float = 1e-3):
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


def predict(networks: dict, x: torch.Tensor, device) -> dict:
    with torch.no_grad():
        return {name: net.to(device).eval()(x.to(device)).cpu() for name, net in networks.items()}


def run(epochs: int = 3, seed: int = 0, device: str = "auto", out_dir: str = "weights_lightning",
        verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=32)

    module = Classifier()
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(out / "lightning.ckpt", weights_only=False)

    checkpoint = torch.load(out / "lightning.ckpt", map_location="cpu", weights_only=True)
    net = build_model()
    net.load_state_dict({k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()
                         if k.startswith("model.")})
    torch.save(net.state_dict(), out / "lightning_weights.pt")

    fresh = Classifier()
    fresh.model.load_state_dict(torch.load(out / "lightning_weights.pt", weights_only=True))
    torch.save({"state_dict": fresh.state_dict(), "hyper_parameters": dict(fresh.hparams),
                "pytorch-lightning_version": pl.__version__}, out / "from_weights.ckpt")
    reloaded = Classifier.load_from_checkpoint(out / "from_weights.ckpt")

    networks = {"trained": module.model, "checkpoint": net, "weights": fresh.model, "lightning_ckpt": reloaded.model}
    return {"model": module.model, "predictions": predict(networks, val_set.tensors[0], module.device)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out-dir", default="weights_lightning", help="folder for the files written")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, args.out_dir, verbose=True)
    except (ValueError, OSError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

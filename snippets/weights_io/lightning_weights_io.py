"""Weights in and out of PyTorch Lightning: a .ckpt into a plain nn.Module, plain weights into a LightningModule and into a .ckpt without fit."""

# region: not counted (the command line)
import argparse
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

from pathlib import Path

import pytorch_lightning as pl
import torch
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
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        # region: not counted (collects what run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.verbose = False
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

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


# region: not counted (the page's check: a reloaded network against the trained one, bit for bit)
def compare(route: str, path: Path, trained: nn.Module, restored: nn.Module, x: torch.Tensor) -> dict:
    stored = torch.load(path, map_location="cpu", weights_only=True)
    weights = stored.get("state_dict", stored.get("model", stored))
    dev = next(trained.parameters()).device
    restored.to(dev)
    difference = max((a - b).abs().max().item()
                     for a, b in zip(trained.state_dict().values(), restored.state_dict().values()))
    trained.eval()
    restored.eval()
    with torch.no_grad():
        same = torch.equal(trained(x.to(dev)), restored(x.to(dev)))
    return {"route": route, "file": path.name, "top_keys": sorted(stored), "first_key": next(iter(weights)),
            "difference": difference, "identical": difference == 0.0 and same}
# endregion


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        out_dir: str = ".", verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr)
    # region: not counted (collects what run() returns)
    module.verbose = verbose
    # endregion
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

    fresh = Classifier(lr=lr)
    fresh.model.load_state_dict(torch.load(out / "lightning_weights.pt", weights_only=True))
    torch.save({"state_dict": fresh.state_dict(), "hyper_parameters": dict(fresh.hparams),
                "pytorch-lightning_version": pl.__version__}, out / "from_weights.ckpt")
    reloaded = Classifier.load_from_checkpoint(out / "from_weights.ckpt")

    # region: not counted (the page's check, and collects what run() returns)
    x_val = val_set.tensors[0]
    round_trips = [compare(".ckpt → plain nn.Module", out / "lightning.ckpt", module.model, net, x_val),
                   compare("plain weights → LightningModule", out / "lightning_weights.pt", module.model,
                           fresh.model, x_val),
                   compare("LightningModule → .ckpt without fit → load_from_checkpoint", out / "from_weights.ckpt",
                           module.model, reloaded.model, x_val)]
    if verbose:
        for trip in round_trips:
            print(f"{trip['route']}: {trip['file']}, {'bitwise identical' if trip['identical'] else 'DIFFERENT'}")
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "round_trips": round_trips,
            "round_trip_max": max(t["difference"] for t in round_trips)}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out-dir", default=".", help="folder for the files written (default: here)")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.out_dir, verbose=True)
    except (ValueError, OSError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {len(result['round_trips'])} round trips, largest difference {result['round_trip_max']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

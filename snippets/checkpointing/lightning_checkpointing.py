"""Keeping the best k checkpoints by validation loss, plus last.ckpt, with Lightning's ModelCheckpoint."""

import argparse
import os
import sys

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.callbacks import ModelCheckpoint
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
    def __init__(self, lr: float = 0.03, verbose: bool = False):
        super().__init__()
        self.save_hyperparameters("lr")
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        # region: not counted (the values run() returns)
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": []}
        # endregion

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
            self.print(f"epoch {self.current_epoch}  train_loss {self.history['train_loss'][-1]:.4f}"
                       f"  val_loss {self.history['val_loss'][-1]:.4f}")
    # endregion

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def prepare_folder(ckpt_dir: str) -> None:
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in os.listdir(ckpt_dir):
        if name.endswith(".ckpt"):
            os.remove(os.path.join(ckpt_dir, name))


# region: not counted (describes each checkpoint file for the page's tables)
def describe(value, depth: int = 0) -> dict:
    if isinstance(value, torch.Tensor):
        return {"type": "tensor", "tensors": 1, "tensor_bytes": value.numel() * value.element_size(),
                "shape": list(value.shape)}
    if isinstance(value, dict):
        parts = {str(k): describe(v, depth + 1) for k, v in value.items()}
        info = {"type": "dict", "keys": list(parts), "tensors": sum(p["tensors"] for p in parts.values()),
                "tensor_bytes": sum(p["tensor_bytes"] for p in parts.values())}
        if value and all(isinstance(v, torch.Tensor) for v in value.values()):
            info["shapes"] = {k: p["shape"] for k, p in parts.items()}
        if depth == 0:
            info["items"] = {k: p for k, p in parts.items() if p["type"] == "dict"}
        return info
    if isinstance(value, (list, tuple)):
        parts = [describe(v, depth + 1) for v in value]
        return {"type": "list", "length": len(value), "tensors": sum(p["tensors"] for p in parts),
                "tensor_bytes": sum(p["tensor_bytes"] for p in parts)}
    if isinstance(value, (int, float, bool)) or value is None or (isinstance(value, str) and depth == 0):
        return {"type": type(value).__name__, "value": value, "tensors": 0, "tensor_bytes": 0}
    return {"type": type(value).__name__, "tensors": 0, "tensor_bytes": 0}


def inventory(ckpt_dir: str) -> dict:
    contents = {}
    for name in sorted(os.listdir(ckpt_dir)):
        path = os.path.join(ckpt_dir, name)
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        contents[name] = {"file_bytes": os.path.getsize(path),
                          "keys": {str(k): describe(v) for k, v in checkpoint.items()}}
    return contents
# endregion


def run(epochs: int = 10, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.03,
        save_top_k: int = 3, ckpt_dir: str = "checkpoints_lightning", verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)
    prepare_folder(ckpt_dir)

    module = Classifier(lr=lr, verbose=verbose)
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, filename="{epoch:02d}", monitor="val_loss", mode="min",
                                 save_top_k=save_top_k, save_last=True)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, callbacks=[checkpoint], logger=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader)

    restored = Classifier.load_from_checkpoint(checkpoint.best_model_path, map_location=module.device)
    restored.eval()
    with torch.no_grad():
        predictions = restored.model(val_set.tensors[0].to(restored.device)).cpu()

    # region: not counted (the values run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device),
            "kept_files": sorted(os.listdir(ckpt_dir)),
            "kept_epochs": sorted(int(os.path.basename(p)[6:-5]) for p in checkpoint.best_k_models),
            "best_file": os.path.relpath(checkpoint.best_model_path, ckpt_dir), "best_predictions": predictions,
            "checkpoints": inventory(ckpt_dir)}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--save-top-k", type=int, default=3)
    parser.add_argument("--ckpt-dir", default="checkpoints_lightning",
                        help="folder for the checkpoints; .ckpt files already in it are replaced")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.save_top_k < 1:
        print("error: --epochs, --batch-size and --save-top-k must be at least 1 and --lr positive",
              file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.save_top_k,
                     args.ckpt_dir, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: kept {', '.join(result['kept_files'])} in {args.ckpt_dir}; best {result['best_file']}")
    return 0
# endregion


if __name__ == "__main__":
    raise SystemExit(main())

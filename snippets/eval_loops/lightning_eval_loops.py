"""Validation, test and prediction loops in PyTorch Lightning: validation_step, test_step and predict_step, run by the Trainer."""

import argparse
import sys

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 600, features: int = 10, new: int = 40):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n + new, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(n + new, 2, generator=generator)).argmax(dim=1)
    train, val = int(0.66 * n), int(0.83 * n)
    return (TensorDataset(x[:train], y[:train]), TensorDataset(x[train:val], y[train:val]),
            TensorDataset(x[val:n], y[val:n]), TensorDataset(x[n:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


def observe(modes: dict, stage: str, model: nn.Module) -> None:
    seen = modes.setdefault(stage, {"training": [], "grad_enabled": [], "inference_mode": []})
    for key, value in (("training", model.training), ("grad_enabled", torch.is_grad_enabled()),
                       ("inference_mode", torch.is_inference_mode_enabled())):
        if value not in seen[key]:
            seen[key].append(value)


def split_modes(modes: dict) -> tuple[dict, dict]:
    inference = {stage: seen.pop("inference_mode") for stage, seen in modes.items()}
    return modes, inference


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-2, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": []}
        self.modes = {}

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        observe(self.modes, "val" if self.trainer.state.fn == "fit" else "validate", self.model)
        self.log("val_loss", self.loss_fn(self.model(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        observe(self.modes, "test", self.model)
        logits = self.model(x)
        self.log("test_loss", self.loss_fn(logits, y))
        self.log("test_acc", (logits.argmax(dim=1) == y).float().mean())

    def predict_step(self, batch, batch_idx):
        (x,) = batch
        observe(self.modes, "predict", self.model)
        return self.model(x).softmax(dim=1)

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        if self.verbose:
            print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                  f"  train_loss {self.history['train_loss'][-1]:.4f}"
                  f"  val_loss {self.history['val_loss'][-1]:.4f}")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def resolve_accelerator(name: str) -> str:
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return "gpu" if name == "cuda" else "cpu"


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    accelerator = resolve_accelerator(device)
    pl.seed_everything(seed, verbose=False)
    train_set, val_set, test_set, new_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    new_loader = DataLoader(new_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))

    module = Classifier(lr=lr, verbose=verbose)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, train_loader, val_loader)
    final_val_loss = trainer.validate(module, val_loader, verbose=verbose)[0]["val_loss"]
    tested = trainer.test(module, test_loader, verbose=verbose)[0]
    predictions = torch.cat(trainer.predict(module, new_loader))
    again = torch.cat(trainer.predict(module, new_loader))
    if verbose:
        print(f"predict: {len(predictions)} rows, first {predictions[0].tolist()}")

    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    modes, inference = split_modes(module.modes)
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "final_val_loss": final_val_loss,
            "test_loss": tested["test_loss"], "test_acc": tested["test_acc"],
            "predictions": predictions.cpu(), "repeat_difference": (predictions - again).abs().max().item(),
            "modes": modes, "inference_mode": inference}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, verbose=True)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

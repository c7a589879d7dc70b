"""Per-step gradient norms and per-epoch weight norms recorded by a Lightning Callback, per-step losses by a hook."""

import argparse
import sys

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


def grad_norm(model: nn.Module) -> float:
    norms = [torch.linalg.vector_norm(p.grad.detach()) for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)).item()


def weight_norm(model: nn.Module) -> float:
    norms = [torch.linalg.vector_norm(p.detach()) for p in model.parameters()]
    return torch.linalg.vector_norm(torch.stack(norms)).item()


class NormTracker(pl.Callback):
    def __init__(self):
        self.grad_norms = []
        self.weight_norms = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.grad_norms.append(grad_norm(pl_module.model))

    def on_train_epoch_end(self, trainer, pl_module):
        self.weight_norms.append(weight_norm(pl_module.model))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": []}
        self.step_losses = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.step_losses.append(outputs["loss"].item())

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        if self.verbose:
            tracker = next(c for c in self.trainer.callbacks if isinstance(c, NormTracker))
            print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                  f"  train_loss {self.history['train_loss'][-1]:.4f}"
                  f"  val_loss {self.history['val_loss'][-1]:.4f}"
                  f"  last grad norm {tracker.grad_norms[-1]:.4f}"
                  f"  weight norm {weight_norm(self.model):.4f}")

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
        lr: float = 1e-3, verbose: bool = False) -> dict:
    accelerator = resolve_accelerator(device)
    pl.seed_everything(seed, verbose=False)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr, verbose=verbose)
    tracker = NormTracker()
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=1,
        callbacks=[tracker],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, train_loader, val_loader)

    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "grad_norms": tracker.grad_norms,
            "weight_norms": tracker.weight_norms, "step_losses": module.step_losses}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, verbose=True)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}, "
          f"{len(result['grad_norms'])} gradient norms recorded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

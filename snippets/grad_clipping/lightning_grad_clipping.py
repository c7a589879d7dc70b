"""Gradient clipping in PyTorch Lightning: Trainer(gradient_clip_val=..., gradient_clip_algorithm=...)."""

import argparse
import sys

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


ALGORITHMS = ("norm", "value")


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
    def __init__(self, lr: float = 0.1, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.verbose = verbose
        # region: not counted (collects what run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.grad_norms, self.grad_max = [], []
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

    # region: not counted (collects what run() returns)
    def on_before_optimizer_step(self, optimizer):
        grads = [p.grad for p in self.model.parameters()]
        self.grad_norms.append(torch.nn.utils.get_total_norm(grads))
        self.grad_max.append(torch.nn.utils.get_total_norm(grads, norm_type=float("inf")))
    # endregion

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        # region: not counted (collects what run() returns)
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        # endregion
        if self.verbose:
            self.print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                       f"  train_loss {metrics['train_loss']:.4f}  val_loss {metrics['val_loss']:.4f}")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", algorithm: str = "norm", clip_val: float = 0.2,
        batch_size: int = 32, lr: float = 0.1, verbose: bool = False) -> dict:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}: use norm or value")
    if clip_val <= 0:
        raise ValueError("--clip-val must be positive")
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr, verbose=verbose)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        gradient_clip_val=clip_val,
        gradient_clip_algorithm=algorithm,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "grad_norm": torch.stack(module.grad_norms).tolist(),
            "grad_max": torch.stack(module.grad_max).tolist()}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--algorithm", default="norm", choices=ALGORITHMS,
                        help="norm (rescale the whole gradient) or value (clamp each element)")
    parser.add_argument("--clip-val", type=float, default=0.2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.1)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.algorithm, args.clip_val, args.batch_size, args.lr,
                     verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    measured = result["grad_norm"] if args.algorithm == "norm" else result["grad_max"]
    clipped = sum(value > args.clip_val for value in measured)
    print(f"done: {result['steps']} optimizer steps on {result['device']}, {clipped} of them clipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

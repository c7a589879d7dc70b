"""Mixed-precision training in PyTorch Lightning: one Trainer argument, precision="bf16-mixed" or "16-mixed"."""

import argparse
import sys

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

PRECISIONS = {"32-true": torch.float32, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def make_data(seed: int, n: int = 1024, features: int = 32):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 4, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 4))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.verbose = verbose
        # region: not counted (collects what run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        self.compute_dtypes = set()
        self.model[2].register_forward_hook(lambda module, inputs, output: self.compute_dtypes.add(str(output.dtype)))
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

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
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def check_precision(precision: str, device: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    if precision == "16-mixed" and (device == "cpu" or not torch.cuda.is_available()):
        raise ValueError("--precision 16-mixed (fp16 with GradScaler) needs a CUDA GPU; on the CPU use bf16-mixed")


def run(epochs: int = 10, seed: int = 0, device: str = "auto", precision: str = "bf16-mixed",
        batch_size: int = 32, lr: float = 1e-3, verbose: bool = False) -> dict:
    check_precision(precision, device)
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
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    scaler = getattr(trainer.precision_plugin, "scaler", None)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "precision": precision, "compute_dtype": sorted(module.compute_dtypes),
            "weight_dtype": str(next(module.model.parameters()).dtype),
            "grad_scale": scaler.get_scale() if scaler is not None else None}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--precision", default="bf16-mixed", choices=tuple(PRECISIONS),
                        help="16-mixed needs a CUDA GPU")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
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
        result = run(args.epochs, args.seed, args.device, args.precision, args.batch_size, args.lr, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']} with precision {result['precision']}"
          f" (layers computed in {', '.join(result['compute_dtype'])}, weights kept in {result['weight_dtype']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""Several validation sets in PyTorch Lightning: a list of val dataloaders, validation_step(..., dataloader_idx)."""

# region: not counted (the command line)
import argparse
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

VAL_SETS = ("clean", "noisy")


def make_data(seed: int, n: int = 512, features: int = 10, noise: float = 1.0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
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


# region: not counted (collects what run() returns and prints it for the page's log)
class History(pl.Callback):
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.history = {"train_loss": [], **{f"{metric}_{name}": [] for name in VAL_SETS
                                             for metric in ("val_loss", "val_acc")}}

    def on_train_epoch_end(self, trainer, pl_module):
        metrics = trainer.callback_metrics
        for key, values in self.history.items():
            metric, _, name = key.rpartition("_")
            lightning_name = f"{metric}/dataloader_idx_{VAL_SETS.index(name)}" if key not in metrics else key
            values.append(metrics[lightning_name].item())
        if self.verbose:
            pl_module.print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}  "
                            + "  ".join(f"{k} {v[-1]:.4f}" for k, v in self.history.items()))
# endregion


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, add_dataloader_idx: bool = True, verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, clean_set, noisy_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loaders = [DataLoader(clean_set, batch_size=batch_size), DataLoader(noisy_set, batch_size=batch_size)]

    module = Classifier(lr=lr, add_dataloader_idx=add_dataloader_idx)
    # region: not counted (collects what run() returns)
    history = History(verbose)
    # endregion
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
        # region: not counted (collects what run() returns)
        callbacks=[history],
        # endregion
    )
    trainer.fit(module, train_loader, val_loaders)

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": history.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "metric_names": sorted(trainer.callback_metrics),
            "validation_batches": dict(zip(VAL_SETS, trainer.num_val_batches)),
            "sanity_check_batches": dict(zip(VAL_SETS, trainer.num_sanity_val_batches))}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--no-dataloader-idx", action="store_true",
                        help="name each set's metrics yourself (self.log(..., add_dataloader_idx=False))")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr,
                     add_dataloader_idx=not args.no_dataloader_idx, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

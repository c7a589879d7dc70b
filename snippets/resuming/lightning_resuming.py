"""Resuming an interrupted run with Lightning: Trainer.fit(ckpt_path=...), plus a callback for the RNG states it does not save."""

import argparse
import os
import sys

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.callbacks import Callback
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
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 0.01, verbose: bool = False):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        # region: not counted (the values run() returns)
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": [], "lr": []}
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
    def on_train_epoch_start(self):
        self.history["lr"].append(self.optimizers().param_groups[0]["lr"])

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        if self.verbose:
            self.print(f"epoch {self.current_epoch}  lr {self.history['lr'][-1]:.4f}"
                       f"  train_loss {self.history['train_loss'][-1]:.4f}  val_loss {self.history['val_loss'][-1]:.4f}")
    # endregion

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


class RandomState(Callback):
    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def state_dict(self):
        state = {"torch": torch.get_rng_state(), "loader": self.generator.get_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state):
        torch.set_rng_state(state["torch"])
        if "cuda" in state:
            torch.cuda.set_rng_state_all(state["cuda"])
        self.generator.set_state(state["loader"])


# region: not counted (--forget: the page's experiment replaces saved states with fresh ones)
class Forget(Callback):
    def __init__(self, forget: tuple, generator: torch.Generator):
        self.forget = forget
        self.generator = generator

    def on_load_checkpoint(self, trainer, pl_module, checkpoint):
        fresh = pl_module.configure_optimizers()
        if "optimizer" in self.forget:
            checkpoint["optimizer_states"] = [fresh["optimizer"].state_dict()]
        if "scheduler" in self.forget:
            checkpoint["lr_schedulers"] = [fresh["lr_scheduler"]["scheduler"].state_dict()]
        saved = checkpoint["callbacks"]["RandomState"]
        if "rng" in self.forget:
            saved["torch"] = torch.get_rng_state()
            if "cuda" in saved:
                saved["cuda"] = torch.cuda.get_rng_state_all()
        if "loader" in self.forget:
            saved["loader"] = self.generator.get_state()
# endregion


def train(epochs: int, seed: int, device: str, batch_size: int, lr: float, stop_after: int | None = None,
          ckpt_path: str | None = None, resume: bool = False, forget: tuple = (), verbose: bool = False):
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr, verbose=verbose)
    trainer = pl.Trainer(max_epochs=stop_after or epochs, accelerator=device, devices=1,
                         callbacks=[RandomState(generator), Forget(forget, generator)], logger=False,
                         enable_checkpointing=False, enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, train_loader, val_loader, ckpt_path=ckpt_path if resume else None)
    if stop_after is not None:
        trainer.save_checkpoint(ckpt_path, weights_only=False)
    return module, module.history, trainer.global_step


# region: not counted (the page's experiment: uninterrupted, interrupted and resumed, compared)
RESTORABLE = ("optimizer", "scheduler", "rng", "loader")


def run(epochs: int = 6, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.01,
        stop_after: int | None = None, ckpt_dir: str = "checkpoints_lightning", forget: tuple = (),
        verbose: bool = False) -> dict:
    stop_after = epochs // 2 if stop_after is None else stop_after
    if not 0 < stop_after < epochs:
        raise ValueError(f"--stop-after must be between 1 and {epochs - 1}")
    unknown = set(forget) - set(RESTORABLE)
    if unknown:
        raise ValueError(f"cannot forget {sorted(unknown)}: choose from {', '.join(RESTORABLE)}")
    os.makedirs(ckpt_dir, exist_ok=True)
    ckpt_path = os.path.join(ckpt_dir, "interrupted.ckpt")

    if verbose:
        print(f"-- uninterrupted: {epochs} epochs")
    reference, reference_history, reference_steps = train(epochs, seed, device, batch_size, lr, verbose=verbose)
    if verbose:
        print(f"-- interrupted after {stop_after} of {epochs} epochs")
    _, before, _ = train(epochs, seed, device, batch_size, lr, stop_after=stop_after, ckpt_path=ckpt_path,
                         verbose=verbose)
    if verbose:
        print(f"-- resumed from {os.path.basename(ckpt_path)}" + (f", forgetting {', '.join(forget)}" if forget else ""))
    module, after, steps = train(epochs, seed, device, batch_size, lr, ckpt_path=ckpt_path, resume=True,
                                 forget=tuple(forget), verbose=verbose)

    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    expected = {k: v.detach().cpu() for k, v in reference.model.state_dict().items()}
    return {"history": {k: before[k] + after[k] for k in before}, "state_dict": state,
            "steps": reference_steps + steps, "global_step": steps, "device": str(module.device),
            "uninterrupted_history": reference_history,
            "bitwise_equal": all(torch.equal(state[k], expected[k]) for k in state),
            "resume_difference": max((state[k] - expected[k]).abs().max().item() for k in state),
            "checkpoint_file": os.path.basename(ckpt_path), "forgotten": sorted(forget),
            "checkpoint_epoch": torch.load(ckpt_path, map_location="cpu", weights_only=True)["epoch"]}
# endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--stop-after", type=int, help="epochs run before the interruption (default: half)")
    parser.add_argument("--ckpt-dir", default="checkpoints_lightning", help="folder for the checkpoint")
    parser.add_argument("--forget", nargs="*", default=[], help=f"states not to restore: {', '.join(RESTORABLE)}")
    args = parser.parse_args(argv)
    if args.epochs < 2 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs must be at least 2, --batch-size at least 1 and --lr positive", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.stop_after,
                     args.ckpt_dir, tuple(args.forget), verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    verdict = "bitwise equal to" if result["bitwise_equal"] else "DIFFERENT from"
    print(f"done: resumed weights {verdict} the uninterrupted run "
          f"(max |difference| {result['resume_difference']:.3g})")
    return 0
# endregion


if __name__ == "__main__":
    raise SystemExit(main())

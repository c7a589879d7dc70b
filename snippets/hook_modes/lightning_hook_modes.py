"""Train and eval modes in PyTorch Lightning: the Trainer switches to eval() and no_grad() for validation and restores the modes afterwards."""

# region: not counted (the command line)
import argparse
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

import pytorch_lightning as pl
import torch
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


# region: not counted (records the modes in every hook, for the page)
def grad_mode() -> str:
    if torch.is_inference_mode_enabled():
        return "inference_mode"
    return "grad" if torch.is_grad_enabled() else "no_grad"


def record(modes: dict, point: str, network: nn.Module) -> None:
    seen = modes.setdefault(point, {"training": [], "grad": []})
    for key, value in (("training", network.training), ("grad", grad_mode())):
        if value not in seen[key]:
            seen[key].append(value)


HOOKS = ("setup", "on_fit_start", "on_sanity_check_start", "on_validation_start", "on_validation_epoch_start",
         "on_validation_batch_start", "on_validation_batch_end", "on_validation_epoch_end", "on_validation_end",
         "on_sanity_check_end", "on_train_start", "on_train_epoch_start", "on_train_batch_start",
         "on_before_zero_grad", "on_before_backward", "on_after_backward", "on_before_optimizer_step",
         "on_train_batch_end", "on_train_epoch_end", "on_train_end", "on_fit_end", "teardown")


def point(hook: str, trainer: pl.Trainer) -> str:
    return f"{hook} (sanity check)" if trainer.sanity_checking and "validation" in hook else hook


class ModeRecorder(pl.Callback):
    def __init__(self, modes: dict):
        self.modes = modes


for _hook in HOOKS:
    setattr(ModeRecorder, _hook, lambda self, trainer, pl_module, *args, _hook=_hook, **kwargs:
            record(self.modes, point(_hook, trainer), pl_module.model))
# endregion


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-2):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        # region: not counted (records the modes, for the page)
        self.modes = {}
        # endregion

    def training_step(self, batch, batch_idx):
        x, y = batch
        # region: not counted (records the modes, for the page)
        record(self.modes, "training_step", self.model)
        # endregion
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        # region: not counted (records the modes, for the page)
        record(self.modes, point("validation_step", self.trainer), self.model)
        # endregion
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class Probe(pl.Callback):
    def __init__(self, x: torch.Tensor, restore_mode: bool = True):
        self.x = x
        self.restore_mode = restore_mode

    def on_train_epoch_end(self, trainer, pl_module):
        pl_module.log("probe", probe(pl_module.model, self.x.to(pl_module.device), self.restore_mode))


# region: not counted (collects what run() returns and prints it for the page's log)
class History(pl.Callback):
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": [], "probe": [], "bn_batches_tracked": []}

    def on_train_epoch_end(self, trainer, pl_module):
        for key in ("train_loss", "val_loss", "probe"):
            self.history[key].append(trainer.callback_metrics[key].item())
        self.history["bn_batches_tracked"].append(pl_module.model[1].num_batches_tracked.item())
        if self.verbose:
            pl_module.print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
                            f"  train_loss {self.history['train_loss'][-1]:.4f}"
                            f"  val_loss {self.history['val_loss'][-1]:.4f}  probe {self.history['probe'][-1]:.4f}")
# endregion


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, restore_mode: bool = True, verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr)
    # region: not counted (collects what run() returns, and the modes)
    history, recorder = History(verbose), ModeRecorder(module.modes)
    # endregion
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
        callbacks=[Probe(val_set.tensors[0][:32], restore_mode),
                   # region: not counted (collects what run() returns, and the modes)
                   history, recorder,
                   # endregion
                   ],
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns, and the modes)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": history.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "modes": module.modes}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--leave-eval", action="store_true",
                        help="the probe at the end of each epoch leaves the network in eval mode")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr,
                     restore_mode=not args.leave_eval, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""The command line in PyTorch Lightning: LightningCLI builds it from the classes' signatures, with config files, overrides and --print_config."""

import sys

# region: not counted (the site's common options --epochs, --seed and --device, turned into LightningCLI's)
import argparse

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion
# region: not counted (the page's check: runs the command line twice and captures what it prints)
import contextlib
import io
from pathlib import Path
# endregion

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LightningCLI
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
try:
    from jsonargparse.typing import PositiveFloat, PositiveInt
except ImportError:
    sys.exit('error: LightningCLI needs jsonargparse with its signatures extra: pip install "jsonargparse[signatures]"')


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model(hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 2))


class Classifier(pl.LightningModule):
    def __init__(self, hidden: PositiveInt = 16, lr: PositiveFloat = 1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(hidden)
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


class DataModule(pl.LightningDataModule):
    def __init__(self, batch_size: PositiveInt = 32, seed: int = 0):
        super().__init__()
        self.batch_size, self.seed = batch_size, seed
        self.train_set, self.val_set = make_data(seed)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size)


# region: not counted (collects what run() returns and prints it for the page's log)
class History(pl.Callback):
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": []}

    def on_train_epoch_end(self, trainer, pl_module):
        for key in self.history:
            self.history[key].append(trainer.callback_metrics[key].item())
        if self.verbose:
            pl_module.print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
                            f"  train_loss {self.history['train_loss'][-1]:.4f}"
                            f"  val_loss {self.history['val_loss'][-1]:.4f}")
# endregion


def cli(verbose: bool = True, callbacks=()) -> LightningCLI:
    return LightningCLI(
        Classifier,
        DataModule,
        trainer_defaults={"logger": False, "enable_checkpointing": False, "enable_progress_bar": verbose,
                          "enable_model_summary": verbose, "callbacks": list(callbacks)},
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
    )


# region: not counted (the page's check, and the site's common options: run LightningCLI as if a command was typed)
@contextlib.contextmanager
def typed(args: list[str]):
    saved = sys.argv
    sys.argv = [Path(__file__).name, *args]
    try:
        yield
    finally:
        sys.argv = saved


def run(epochs: int = 3, seed: int = 0, device: str = "auto", lr: float = 0.01, out_dir: str = ".",
        verbose: bool = False) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = (f"seed_everything: {seed}\ntrainer:\n  max_epochs: {epochs}\n  accelerator: {device}\n"
            f"model:\n  hidden: 16\n  lr: 0.001\ndata:\n  batch_size: 32\n  seed: {seed}\n")
    (out / "lightning_config.yaml").write_text(base)
    here = [] if out_dir == "." else ["--trainer.default_root_dir", str(out)]
    command = ["fit", "--config", str(out / "lightning_config.yaml"), "--model.lr", str(lr)]
    if verbose:
        print("$ python lightning_cli.py " + " ".join(command))
    history = History(verbose)
    with typed(command + here):
        first = cli(verbose, [history])
    weights = {k: v.detach().cpu() for k, v in first.model.model.state_dict().items()}
    with typed(command + here + ["--print_config"]), contextlib.redirect_stdout(io.StringIO()) as printed, \
            contextlib.suppress(SystemExit):
        cli(verbose)
    saved = (out / "config.yaml").read_text()
    if verbose:
        print("$ python lightning_cli.py fit --config config.yaml")
    with typed(["fit", "--config", str(out / "config.yaml")] + here):
        second = cli(verbose)
    difference = max((v - second.model.model.state_dict()[k].cpu()).abs().max().item() for k, v in weights.items())
    if verbose:
        print(f"run again from the saved config.yaml: weights {'bitwise the same' if difference == 0 else 'DIFFERENT'}")
    config = first.config["fit"]
    line = f"python lightning_cli.py fit --config lightning_config.yaml --model.lr {lr}"
    return {"history": history.history, "state_dict": weights, "steps": first.trainer.global_step,
            "device": str(first.trainer.strategy.root_device), "command": line,
            "print_command": line + " --print_config",
            "rerun_command": "python lightning_cli.py fit --config config.yaml",
            "config_given": base, "config_printed": printed.getvalue(), "config_saved": saved,
            "resolved": {"epochs": config["trainer"]["max_epochs"], "seed": config["seed_everything"],
                         "lr": config["model"]["lr"], "hidden": config["model"]["hidden"],
                         "batch_size": config["data"]["batch_size"]},
            "reproduced_difference": difference}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    front = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    front.add_argument("--epochs", type=int)
    front.add_argument("--seed", type=int)
    front.add_argument("--device")
    known, rest = front.parse_known_args(argv)
    problem = None
    if known.epochs is not None and known.epochs < 1:
        problem = "--epochs must be at least 1"
    elif known.device not in (None, "auto", "cpu", "cuda"):
        problem = f"unknown device {known.device!r}: use auto, cpu or cuda"
    elif known.device == "cuda" and not torch.cuda.is_available():
        problem = "--device cuda was requested but no CUDA GPU is available"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if not rest or rest[0] not in ("fit", "validate", "test", "predict", "-h", "--help"):
        rest = ["fit", *rest]
    if known.epochs is not None:
        rest += ["--trainer.max_epochs", str(known.epochs)]
    if known.seed is not None:
        rest += ["--seed_everything", str(known.seed), "--data.seed", str(known.seed)]
    if known.device is not None:
        rest += ["--trainer.accelerator", known.device]
    try:
        with typed(rest):
            result = cli()
    except (MisconfigurationException, ModuleNotFoundError) as error:
        if isinstance(error, ModuleNotFoundError) and "jsonargparse" in str(error):
            error = 'LightningCLI needs jsonargparse with its signatures extra: pip install "jsonargparse[signatures]"'
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result.trainer.global_step} optimizer steps on {result.trainer.strategy.root_device}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""The command line in PyTorch Lightning: LightningCLI builds it from the classes' signatures, with config files, overrides and --print_config."""

import sys
from argparse import ArgumentError
from typing import Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
try:
    from jsonargparse.typing import PositiveFloat, PositiveInt
except ImportError:
    sys.exit('error: LightningCLI needs jsonargparse with its signatures extra: pip install "jsonargparse[signatures]"')


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = (x @ torch.randn(features, 2, generator=generator)).argmax(dim=1)
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


class CLI(LightningCLI):
    def add_arguments_to_parser(self, parser):
        parser.add_argument("--epochs", type=int, default=5, help="the number of epochs (trainer.max_epochs)")
        parser.add_argument("--device", type=Literal["auto", "cpu", "cuda"], default="auto")
        parser.link_arguments("epochs", "trainer.max_epochs")
        parser.link_arguments("device", "trainer.accelerator")
        parser.link_arguments("seed_everything", "data.seed")

    def before_instantiate_classes(self):
        if self.config.epochs < 1:
            raise ValueError("--epochs must be at least 1")


def cli_main(args=None, verbose: bool = True) -> CLI:
    cli = CLI(Classifier, DataModule, args=args, run=False, seed_everything_default=0,
              trainer_defaults={"logger": False, "enable_checkpointing": False,
                                "enable_progress_bar": verbose, "enable_model_summary": verbose},
              save_config_kwargs={"overwrite": True}, parser_kwargs={"exit_on_error": False})
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return cli


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        hidden: int = 16, out_dir: str = ".", verbose: bool = False) -> dict:
    cli = cli_main({"epochs": epochs, "seed_everything": seed, "device": device, "model": {"hidden": hidden, "lr": lr},
                    "data": {"batch_size": batch_size}, "trainer": {"default_root_dir": out_dir}}, verbose)
    return {"model": cli.model}


def main(argv=None) -> int:
    try:
        cli_main(argv)
    except (ArgumentError, ValueError, MisconfigurationException) as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training by steps in PyTorch Lightning: max_steps, val_check_interval, ModelCheckpoint every n steps, and a loader that can resume mid-epoch."""

import argparse
import os
import warnings

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset


def make_data(seed: int, train_size: int = 200, val_size: int = 64, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(train_size + val_size, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    return TensorDataset(x[:train_size], y[:train_size]), TensorDataset(x[train_size:], y[train_size:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class ResumableLoader(DataLoader):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epoch_start = self.generator.get_state()
        self.served = self.skip = 0

    def __iter__(self):
        self.epoch_start = self.generator.get_state()
        batches = super().__iter__()
        for _ in range(self.skip):
            next(batches)
        self.served, self.skip = self.skip, 0
        for batch in batches:
            self.served += 1
            yield batch

    def state_dict(self):
        return {"epoch_start": self.epoch_start, "served": self.served}

    def load_state_dict(self, state):
        self.generator.set_state(state["epoch_start"])
        self.skip = state["served"]


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 0.1):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss_fn(self.model(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def train(max_steps: int, epochs: int | None, seed: int, device: str, val_every: int, ckpt_every: int,
          ckpt_dir: str, resume_from: str | None = None, verbose: bool = False) -> Classifier:
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    sampler = SubsetRandomSampler(range(len(train_set)), generator=generator)
    train_loader = ResumableLoader(train_set, batch_size=16, sampler=sampler, generator=generator)
    val_loader = DataLoader(val_set, batch_size=16)

    module = Classifier()
    checkpoints = ModelCheckpoint(dirpath=ckpt_dir, filename="{step}", every_n_train_steps=ckpt_every, save_top_k=-1)
    trainer = pl.Trainer(max_steps=max_steps, max_epochs=epochs, val_check_interval=val_every,
                         check_val_every_n_epoch=None, accelerator=device, devices=1, callbacks=[checkpoints],
                         logger=False, enable_progress_bar=verbose, enable_model_summary=verbose)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Checkpoint directory .* exists and is not empty")
        trainer.fit(module, train_loader, val_loader, ckpt_path=resume_from)
    return module


def run(max_steps: int = 30, seed: int = 0, device: str = "auto", val_every: int = 5, ckpt_every: int = 10,
        stop_at: int = 0, epochs: int | None = None, ckpt_dir: str = "checkpoints_lightning",
        verbose: bool = False) -> dict:
    if min(max_steps, val_every, ckpt_every) < 1 or (epochs is not None and epochs < 1):
        raise ValueError("--max-steps, --epochs and the intervals must be at least 1")
    if stop_at % ckpt_every or not 0 <= stop_at < max_steps:
        raise ValueError("--stop-at must be a multiple of the checkpoint interval, below --max-steps")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    os.makedirs(ckpt_dir, exist_ok=True)
    for name in os.listdir(ckpt_dir):
        if name.endswith(".ckpt"):
            os.remove(os.path.join(ckpt_dir, name))
    resume_from = None
    if stop_at:
        train(stop_at, epochs, seed, device, val_every, ckpt_every, ckpt_dir, verbose=verbose)
        resume_from = os.path.join(ckpt_dir, f"step={stop_at}.ckpt")
        if not os.path.exists(resume_from):
            raise ValueError(f"the training ended before step {stop_at}: no checkpoint to resume from")
        if verbose:
            print(f"-- stopped at step {stop_at}; a fresh start resumes from {resume_from}")
    module = train(max_steps, epochs, seed, device, val_every, ckpt_every, ckpt_dir, resume_from, verbose)
    return {"model": module.model}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--epochs", type=int, help="an upper bound in epochs as well (default: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--stop-at", type=int, default=20, help="interrupt at this step, then resume (0: never)")
    parser.add_argument("--ckpt-dir", default="checkpoints_lightning")
    args = parser.parse_args(argv)
    try:
        run(args.max_steps, args.seed, args.device, stop_at=args.stop_at, epochs=args.epochs, ckpt_dir=args.ckpt_dir,
            verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

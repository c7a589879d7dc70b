"""Training by steps in PyTorch Lightning: max_steps, val_check_interval, ModelCheckpoint every n steps, and a loader that can resume mid-epoch."""

# region: not counted (the command line, and the page's experiment)
import argparse
import math
import sys
import warnings

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

import os

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
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
    def __init__(self, lr: float):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss_fn(self.model(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


# region: not counted (collects what run() returns and prints it for the page's log)
class History(pl.Callback):
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.history = {"val_loss": [], "val_step": []}

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        self.history["val_loss"].append(trainer.callback_metrics["val_loss"].item())
        self.history["val_step"].append(trainer.global_step)
        if self.verbose:
            pl_module.print(f"step {trainer.global_step}/{trainer.max_steps}  epoch {trainer.current_epoch}"
                            f"  val_loss {self.history['val_loss'][-1]:.4f}")
# endregion


def train(max_steps: int, seed: int, device: str, batch_size: int, lr: float, val_every: int, ckpt_every: int,
          ckpt_dir: str, epochs: int | None = None, resume_from: str | None = None, resumable: bool = True,
          verbose: bool = False):
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    sampler = SubsetRandomSampler(range(len(train_set)), generator=generator)
    loader_class = ResumableLoader if resumable else DataLoader
    train_loader = loader_class(train_set, batch_size=batch_size, sampler=sampler, generator=generator)
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr)
    checkpoints = ModelCheckpoint(dirpath=ckpt_dir, filename="{step}", every_n_train_steps=ckpt_every,
                                  save_top_k=-1, enable_version_counter=False)
    # region: not counted (collects what run() returns)
    history = History(verbose)
    # endregion
    trainer = pl.Trainer(
        max_steps=max_steps,
        max_epochs=epochs,
        val_check_interval=val_every,
        check_val_every_n_epoch=None,
        accelerator=device,
        devices=1,
        callbacks=[checkpoints, history],
        logger=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, train_loader, val_loader, ckpt_path=resume_from)
    return module, history.history, trainer.global_step


# region: not counted (the page's experiment: uninterrupted, then resumed from a checkpoint of that run, compared)
def run(max_steps: int = 30, seed: int = 0, device: str = "auto", batch_size: int = 16, lr: float = 0.1,
        val_every: int = 10, ckpt_every: int = 10, resume_from: int = 20, epochs: int | None = None,
        ckpt_dir: str = "checkpoints_lightning", resumable: bool = True, verbose: bool = False) -> dict:
    if resume_from % ckpt_every or not 0 < resume_from < max_steps:
        raise ValueError(f"--resume-from must be a multiple of --ckpt-every ({ckpt_every}) below --max-steps")
    if verbose:
        print(f"-- uninterrupted: {max_steps} steps, checkpoints every {ckpt_every}")
    reference, reference_history, reference_steps = train(max_steps, seed, device, batch_size, lr, val_every,
                                                          ckpt_every, ckpt_dir, epochs, resumable=resumable,
                                                          verbose=verbose)
    path = os.path.join(ckpt_dir, f"step={resume_from}.ckpt")
    if not os.path.exists(path):
        raise ValueError(f"no checkpoint at step {resume_from}: the run ended at step {reference_steps}")
    if verbose:
        print(f"-- resumed from {os.path.basename(path)}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module, after, steps = train(max_steps, seed, device, batch_size, lr, val_every, ckpt_every, ckpt_dir,
                                     epochs, resume_from=path, resumable=resumable, verbose=verbose)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    expected = {k: v.detach().cpu() for k, v in reference.model.state_dict().items()}
    before = [i for i, s in enumerate(reference_history["val_step"]) if s <= resume_from]
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return {"history": {k: [reference_history[k][i] for i in before] + after[k] for k in after},
            "state_dict": state, "steps": reference_steps + steps - resume_from, "global_step": steps,
            "device": str(module.device), "uninterrupted_history": reference_history,
            "bitwise_equal": all(torch.equal(state[k], expected[k]) for k in state),
            "resume_difference": max((state[k] - expected[k]).abs().max().item() for k in state),
            "checkpoints": sorted(os.listdir(ckpt_dir), key=lambda name: int(name.split("=")[1].split(".")[0])),
            "resumed_from": os.path.basename(path), "batches_per_epoch": math.ceil(len(make_data(seed)[0]) / batch_size),
            "checkpoint_epoch": checkpoint["epoch"],
            "checkpoint_batch": checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["ready"],
            "loader_state_saved": "combined_loader" in checkpoint["loops"]["fit_loop"]["state_dict"],
            "warnings": [{"category": w.category.__name__,
                          "message": str(w.message).replace(os.path.realpath(ckpt_dir), ckpt_dir)} for w in caught
                         if issubclass(w.category, UserWarning)]}
# endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-steps", type=int, default=30, help="optimizer steps to train")
    parser.add_argument("--epochs", type=int, help="stop after this many epochs, if earlier (default: no limit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--val-every", type=int, default=10, help="validate every n optimizer steps")
    parser.add_argument("--ckpt-every", type=int, default=10, help="save a checkpoint every n optimizer steps")
    parser.add_argument("--resume-from", type=int, default=20, help="the step whose checkpoint the second run resumes")
    parser.add_argument("--ckpt-dir", default="checkpoints_lightning", help="folder for the checkpoints")
    parser.add_argument("--plain-dataloader", action="store_true", help="a torch DataLoader, which cannot resume")
    args = parser.parse_args(argv)
    try:
        if args.epochs is not None and args.epochs < 1:
            raise ValueError("--epochs must be at least 1")
        if min(args.max_steps, args.batch_size, args.val_every, args.ckpt_every) < 1 or args.lr <= 0:
            raise ValueError("--max-steps, --batch-size, --val-every and --ckpt-every must be at least 1, --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.max_steps, args.seed, args.device, args.batch_size, args.lr, args.val_every,
                     args.ckpt_every, args.resume_from, args.epochs, args.ckpt_dir, not args.plain_dataloader,
                     verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for caught in result["warnings"]:
        print(f"{caught['category']} during the resumed run -- {caught['message']}")
    verdict = "bitwise equal to" if result["bitwise_equal"] else "DIFFERENT from"
    print(f"done: resumed weights {verdict} the uninterrupted run (max |difference| {result['resume_difference']:.3g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

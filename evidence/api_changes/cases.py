"""Calls from Lightning 1.x tutorials next to their Lightning 2.x replacements.

Each ``old_*`` function is code that older tutorials show; each ``new_*`` function is what
replaces it. `attempt` runs one and records what happened (the exception, or the
warnings and the result). The build attempts them all in a worker
(`evidence.api_changes.worker`), and the migration page and the tests both check the
claims against the installed Lightning rather than trusting them.
"""

from __future__ import annotations

import inspect
import logging
import tempfile
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

QUIET = dict(logger=False, enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)


class TinyModule(pl.LightningModule):
    """A two-parameter regression, enough to run ``fit``."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 1)
        self.epoch_means: list[float] = []
        self._losses: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self._losses.append(loss.detach())
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def tiny_loader() -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 2, generator=generator)
    return DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4)


# -- Lightning 1.x calls and their replacements ---------------------------------------------

def old_gpus():
    return pl.Trainer(gpus=2, accelerator="gpu")


def new_devices():
    trainer = pl.Trainer(accelerator="cpu", devices=2, **QUIET)  # on a GPU box: accelerator="gpu"
    return f"{type(trainer.strategy).__name__} over {trainer.num_devices} devices"


def old_tpu_cores():
    return pl.Trainer(tpu_cores=8)


def new_accelerator_auto():
    trainer = pl.Trainer(accelerator="auto", devices="auto", **QUIET)  # TPU: accelerator="tpu", devices=8
    return f"{type(trainer.accelerator).__name__}, {trainer.num_devices} device(s)"


def old_resume_from_checkpoint(folder: Path):
    return pl.Trainer(max_epochs=2, resume_from_checkpoint=folder / "epoch1.ckpt")


def new_fit_ckpt_path(folder: Path):
    first = pl.Trainer(max_epochs=1, **QUIET)
    first.fit(TinyModule(), tiny_loader())
    first.save_checkpoint(folder / "epoch1.ckpt")
    resumed = pl.Trainer(max_epochs=2, **QUIET)
    resumed.fit(TinyModule(), tiny_loader(), ckpt_path=folder / "epoch1.ckpt")
    return f"resumed at epoch 1, finished after epoch {resumed.current_epoch} ({resumed.global_step} steps)"


def old_precision_16():
    trainer = pl.Trainer(precision=16, **QUIET)
    return f"precision={trainer.precision!r}"


def new_precision_mixed():
    precision = "16-mixed" if torch.cuda.is_available() else "bf16-mixed"  # fp16 AMP needs CUDA
    trainer = pl.Trainer(precision=precision, **QUIET)
    return f"precision={trainer.precision!r}"


class OldEpochEndModule(TinyModule):
    def training_epoch_end(self, outputs):
        self.epoch_means.append(torch.stack([o["loss"] for o in outputs]).mean().item())


def old_epoch_end_hook():
    pl.Trainer(max_epochs=1, **QUIET).fit(OldEpochEndModule(), tiny_loader())


class NewEpochEndModule(TinyModule):
    def on_train_epoch_end(self):
        self.epoch_means.append(torch.stack(self._losses).mean().item())
        self._losses.clear()


def new_on_epoch_end_hook():
    module = NewEpochEndModule()
    pl.Trainer(max_epochs=2, **QUIET).fit(module, tiny_loader())
    return f"epoch means: {[round(m, 4) for m in module.epoch_means]}"


CASES = [
    ("gpus", "`gpus=` and `accelerator=`", old_gpus, new_devices),
    ("tpu_cores", "`tpu_cores=`", old_tpu_cores, new_accelerator_auto),
    ("resume_from_checkpoint", "`resume_from_checkpoint=`", old_resume_from_checkpoint, new_fit_ckpt_path),
    ("precision_16", "`precision=16`", old_precision_16, new_precision_mixed),
    ("epoch_end_hooks", "`training_epoch_end(outputs)` and friends", old_epoch_end_hook, new_on_epoch_end_hook),
]


# -- running and showing --------------------------------------------------------------------

@dataclass
class Outcome:
    """What one call did on the installed Lightning."""

    function: str
    error: str | None = None
    error_type: str | None = None
    warnings: list[str] = field(default_factory=list)
    result: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def attempt(function) -> Outcome:
    """Run ``function`` (in a temporary folder if it takes one) and record what happened."""
    outcome = Outcome(function.__name__)
    records = _Records()
    lightning_logger = logging.getLogger("pytorch_lightning")
    lightning_logger.addHandler(records)
    previous_level = lightning_logger.level
    lightning_logger.setLevel(logging.WARNING)  # the info lines ("GPU available: ...") are not the point here
    try:
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                args = (Path(folder),) if inspect.signature(function).parameters else ()
                result = function(*args)
                outcome.result = None if result is None else str(result)
            except Exception as error:  # the point: record what the installed version raises
                outcome.error_type = type(error).__name__
                outcome.error = str(error).strip().splitlines()[0]
        outcome.warnings = [f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught
                            if "LeafSpec" not in str(w.message)]  # see evidence/running/policy.py
        outcome.warnings += [f"Lightning: {m.splitlines()[0]}" for m in records.messages]
    finally:
        lightning_logger.removeHandler(records)
        lightning_logger.setLevel(previous_level)
    return outcome


def source(function) -> str:
    """The function's source, with the classes of this module it uses, as a reader would type it."""
    helpers = [obj for name in function.__code__.co_names
               if inspect.isclass(obj := globals().get(name)) and obj.__module__ == __name__
               and obj is not TinyModule]
    return "\n\n".join(textwrap.dedent(inspect.getsource(o)) for o in [*helpers, function]).strip()

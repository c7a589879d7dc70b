"""The workloads the benchmarks time: one MLP trained the same way by plain PyTorch, Lightning
and Fabric, and Lightning's own parity workload (``ParityModuleRNN`` on ``AverageDataset``).

Every run returns its final weights and a `Clock` with time stamps taken inside the
run: entry, around the construction of the ``Trainer`` / ``Fabric`` object, the start of the
first, second and first timed step, and the end of training. The timed window starts at step
``warmup`` (earlier steps are dropped) and ends when the training loop ends, so it includes
what every framework does between steps and at epoch boundaries, but not start-up or teardown.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset


@dataclass(frozen=True)
class Workload:
    """An MLP ``Linear(features, width) -> ReLU -> Linear(width, width) -> ReLU -> Linear(width, classes)``
    trained with Adam on in-memory data, ``batches`` batches per epoch."""

    width: int
    batches: int
    epochs: int
    warmup: int
    batch_size: int = 64
    features: int = 64
    classes: int = 10
    val_batches: int = 0
    seed: int = 0
    lr: float = 1e-3

    @property
    def steps(self) -> int:
        return self.batches * self.epochs

    @property
    def parameters(self) -> int:
        f, w, c = self.features, self.width, self.classes
        return f * w + w + w * w + w + w * c + c

    def short(self, steps_after_warmup: int = 2) -> "Workload":
        """The same model and data, trained only a few steps (warm-up and memory runs)."""
        batches = min(self.batches, self.warmup + steps_after_warmup)
        return replace(self, batches=batches, epochs=1)

    def as_dict(self) -> dict:
        return {**asdict(self), "steps": self.steps, "parameters": self.parameters}


def device_name() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class Clock:
    """Time stamps inside one run: wall-clock and the process's CPU time, each stamp a pair.

    On CUDA each stamp waits for the GPU first (and wall-clock is the measure that counts).
    On a CPU shared with other jobs, wall-clock also counts the time spent waiting for a core;
    the process's CPU time counts only the work done, so both are kept.
    """

    def __init__(self, device: str, warmup: int):
        self.sync = device == "cuda"
        self.warmup = warmup
        self.marks: dict[str, tuple[float, float]] = {}
        self.step = 0

    def now(self) -> tuple[float, float]:
        if self.sync:
            torch.cuda.synchronize()
        return time.perf_counter(), time.process_time()

    def mark(self, name: str) -> None:
        self.marks[name] = self.now()

    def on_step(self) -> None:
        """Called at the start of every training step, after its batch was fetched."""
        if self.step in (0, 1, self.warmup):
            now = self.now()
            for name, at in (("step0", 0), ("step1", 1), ("window_start", self.warmup)):
                if self.step == at:
                    self.marks[name] = now
        self.step += 1

    def summary(self) -> dict:
        """Durations in seconds: ``<phase>_s`` wall-clock and ``<phase>_cpu_s`` CPU time."""
        m = self.marks
        window_steps = self.step - self.warmup
        spans = {"total": ("start", "end"), "construct": ("construct_start", "constructed"),
                 "to_first_step": ("constructed", "step0"),
                 "first_step": ("step0", "step1" if "step1" in m else "end")}
        if window_steps > 0 and "window_start" in m:
            spans["window"] = ("window_start", "end")
        out = {"steps": self.step, "window_steps": window_steps}
        for phase, (a, b) in spans.items():
            out[f"{phase}_s"] = m[b][0] - m[a][0]
            out[f"{phase}_cpu_s"] = m[b][1] - m[a][1]
        if "window_s" in out:
            out["per_step_s"] = out["window_s"] / window_steps
            out["per_step_cpu_s"] = out["window_cpu_s"] / window_steps
        return out


_DATA: dict = {}


def make_data(w: Workload) -> tuple[TensorDataset, TensorDataset | None]:
    """Training (and validation) data in memory: labels from a fixed random linear teacher."""
    key = (w.features, w.classes, w.batch_size, w.batches, w.val_batches, w.seed)
    if key not in _DATA:
        generator = torch.Generator().manual_seed(1000 + w.seed)
        n_train, n_val = w.batches * w.batch_size, w.val_batches * w.batch_size
        x = torch.randn(n_train + n_val, w.features, generator=generator)
        teacher = torch.randn(w.features, w.classes, generator=generator)
        y = (x @ teacher).argmax(dim=1)
        train = TensorDataset(x[:n_train], y[:n_train])
        val = TensorDataset(x[n_train:], y[n_train:]) if n_val else None
        _DATA.clear()
        _DATA[key] = (train, val)
    return _DATA[key]


def make_mlp(w: Workload) -> nn.Module:
    return nn.Sequential(nn.Linear(w.features, w.width), nn.ReLU(), nn.Linear(w.width, w.width), nn.ReLU(),
                         nn.Linear(w.width, w.classes))


def _loaders(w: Workload):
    train, val = make_data(w)
    return (DataLoader(train, batch_size=w.batch_size, shuffle=False),
            DataLoader(val, batch_size=w.batch_size) if val is not None else None)


def _weights(module: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


# -- plain PyTorch ------------------------------------------------------------------------------

def run_pytorch(w: Workload, device: str) -> tuple[dict, Clock]:
    clock = Clock(device, w.warmup)
    clock.mark("start")
    torch.manual_seed(w.seed)
    model = make_mlp(w).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=w.lr)
    train_loader, val_loader = _loaders(w)
    clock.mark("construct_start")
    clock.mark("constructed")
    for _ in range(w.epochs):
        model.train()
        for x, y in train_loader:
            clock.on_step()
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        if val_loader is not None:
            model.eval()
            with torch.no_grad():
                for x, y in val_loader:
                    F.cross_entropy(model(x.to(device)), y.to(device))
    clock.mark("end")
    return _weights(model), clock


# -- Lightning Fabric ---------------------------------------------------------------------------

def run_fabric(w: Workload, device: str) -> tuple[dict, Clock]:
    from lightning_fabric import Fabric

    clock = Clock(device, w.warmup)
    clock.mark("start")
    torch.manual_seed(w.seed)
    model = make_mlp(w)
    optimizer = torch.optim.Adam(model.parameters(), lr=w.lr)
    train_loader, val_loader = _loaders(w)
    clock.mark("construct_start")
    fabric = Fabric(accelerator="cuda" if device == "cuda" else "cpu", devices=1)
    clock.mark("constructed")
    model, optimizer = fabric.setup(model, optimizer)
    train_loader = fabric.setup_dataloaders(train_loader)
    if val_loader is not None:
        val_loader = fabric.setup_dataloaders(val_loader)
    for _ in range(w.epochs):
        model.train()
        for x, y in train_loader:
            clock.on_step()
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            fabric.backward(loss)
            optimizer.step()
        if val_loader is not None:
            model.eval()
            with torch.no_grad():
                for x, y in val_loader:
                    F.cross_entropy(model(x), y)
    clock.mark("end")
    return _weights(model.module), clock


# -- PyTorch Lightning --------------------------------------------------------------------------

MATCHED = {"logger": False, "enable_progress_bar": False, "enable_checkpointing": False,
           "enable_model_summary": False, "num_sanity_val_steps": 0}
"""Trainer settings that make Lightning do the same work as the plain loop."""

VARIANTS: dict[str, dict] = {
    # name: {"trainer": Trainer keyword arguments, "log": how training_step calls self.log, "what": ...}
    "matched": {"trainer": MATCHED, "log": None,
                "what": "progress bar, logger, checkpointing, summary and sanity validation off"},
    "default": {"trainer": {}, "log": None, "what": "Trainer() with its defaults"},
    "barebones": {"trainer": {"barebones": True}, "log": None, "what": "Trainer(barebones=True)"},
    "tqdm": {"trainer": {**MATCHED, "enable_progress_bar": True}, "tqdm": True, "log": None,
             "what": "progress bar on, TQDMProgressBar()"},
    "rich": {"trainer": {**MATCHED, "enable_progress_bar": True}, "rich": True, "log": None,
             "what": "progress bar on, RichProgressBar()"},
    "log_every_50": {"trainer": {**MATCHED, "logger": True}, "log": "step",
                     "what": "self.log('train_loss', loss) + default logger, log_every_n_steps=50 (default)"},
    "log_every_1": {"trainer": {**MATCHED, "logger": True, "log_every_n_steps": 1}, "log": "step",
                    "what": "the same, log_every_n_steps=1"},
    "sync_dist": {"trainer": {**MATCHED, "logger": True}, "log": "sync_dist",
                  "what": "the same as log_every_50 with self.log(..., sync_dist=True)"},
    "checkpointing": {"trainer": {**MATCHED, "enable_checkpointing": True}, "log": None,
                      "what": "ModelCheckpoint on (saves at every epoch end)"},
    "model_summary": {"trainer": {**MATCHED, "enable_model_summary": True}, "log": None,
                      "what": "ModelSummary on (printed once at fit start)"},
    "sanity_val": {"trainer": {**MATCHED, "num_sanity_val_steps": 2}, "log": None,
                   "what": "num_sanity_val_steps=2 (default): two validation batches before training"},
}


def _lightning_classes():
    import pytorch_lightning as pl

    class MLPModule(pl.LightningModule):
        def __init__(self, w: Workload, clock: Clock, log_mode: str | None = None):
            super().__init__()
            self.net = make_mlp(w)
            self.lr = w.lr
            self.clock = clock
            self.log_mode = log_mode

        def on_train_batch_start(self, batch, batch_idx):
            self.clock.on_step()

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            if self.log_mode:
                self.log("train_loss", loss, sync_dist=self.log_mode == "sync_dist")
            return loss

        def on_train_end(self):
            self.clock.mark("end")

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    class MLPModuleWithValidation(MLPModule):
        def validation_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

    return MLPModule, MLPModuleWithValidation


@contextlib.contextmanager
def _quiet_lightning():
    """Silence Lightning's hint about DataLoader workers: the data is in memory on purpose."""
    from pytorch_lightning.utilities.warnings import PossibleUserWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*does not have many workers.*", category=PossibleUserWarning)
        yield


def trainer_parts(variant: str, device: str = "cpu") -> dict:
    """What a Trainer built with a variant's settings holds: its callbacks and logger, by class name."""
    import pytorch_lightning as pl

    with tempfile.TemporaryDirectory(prefix="bench-lightning-") as root, _quiet_lightning():
        trainer = pl.Trainer(max_epochs=1, accelerator="gpu" if device == "cuda" else "cpu", devices=1,
                             default_root_dir=root, **VARIANTS[variant]["trainer"])
        return {"callbacks": [type(c).__name__ for c in trainer.callbacks],
                "logger": type(trainer.logger).__name__ if trainer.logger else None,
                "log_every_n_steps": trainer.log_every_n_steps,
                "num_sanity_val_steps": trainer.num_sanity_val_steps}


def run_lightning(w: Workload, device: str, variant: str = "matched") -> tuple[dict, Clock]:
    import pytorch_lightning as pl

    spec = VARIANTS[variant]
    plain, with_val = _lightning_classes()
    clock = Clock(device, w.warmup)
    clock.mark("start")
    torch.manual_seed(w.seed)
    module = (with_val if w.val_batches else plain)(w, clock, spec["log"])
    train_loader, val_loader = _loaders(w)
    with tempfile.TemporaryDirectory(prefix="bench-lightning-") as root, _quiet_lightning():
        callbacks = []
        if spec.get("rich"):
            from pytorch_lightning.callbacks import RichProgressBar

            callbacks.append(RichProgressBar())
        if spec.get("tqdm"):
            from pytorch_lightning.callbacks import TQDMProgressBar

            callbacks.append(TQDMProgressBar())
        clock.mark("construct_start")
        trainer = pl.Trainer(max_epochs=w.epochs, accelerator="gpu" if device == "cuda" else "cpu", devices=1,
                             default_root_dir=root, callbacks=callbacks, **spec["trainer"])
        clock.mark("constructed")
        trainer.fit(module, train_loader, val_loader)
    return _weights(module.net), clock


RUNNERS = {"pytorch": run_pytorch, "lightning": run_lightning, "fabric": run_fabric}


# -- Lightning's parity workload ----------------------------------------------------------------

class AverageDataset(Dataset):
    """Lightning's ``tests_pytorch.helpers.datasets.AverageDataset``: 300 sequences of 100 steps of
    10 features; the target is the sum of each step's two halves, one rolled by one feature."""

    def __init__(self, dataset_len: int = 300, sequence_len: int = 100):
        self.dataset_len = dataset_len
        self.sequence_len = sequence_len
        self.input_seq = torch.randn(dataset_len, sequence_len, 10)
        top, bottom = self.input_seq.chunk(2, -1)
        self.output_seq = top + bottom.roll(shifts=1, dims=-1)

    def __len__(self):
        return self.dataset_len

    def __getitem__(self, item):
        return self.input_seq[item], self.output_seq[item]


def parity_module_class():
    """Lightning's ``ParityModuleRNN``: ``LSTM(10, 20)`` then ``Linear(20, 5)``, MSE, Adam(lr=0.02), batch 30.

    Both loops use this class, as Lightning's test does: the plain loop calls its methods by hand.
    """
    import pytorch_lightning as pl

    class ParityModuleRNN(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(10, 20, batch_first=True)
            self.linear_out = nn.Linear(in_features=20, out_features=5)
            self.example_input_array = torch.rand(2, 3, 10)
            self._loss = []

        def forward(self, x):
            seq, last = self.rnn(x)
            return self.linear_out(seq)

        def training_step(self, batch, batch_nb):
            x, y = batch
            y_hat = self(x)
            loss = F.mse_loss(y_hat, y)
            self._loss.append(loss.item())
            return {"loss": loss}

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.02)

        def train_dataloader(self):
            return DataLoader(AverageDataset(), batch_size=30)

    return ParityModuleRNN


def parity_vanilla_loop(idx: int, device: str, num_epochs: int) -> tuple[float, dict]:
    """The plain loop of Lightning's ``test_pytorch_parity`` (``vanilla_loop``)."""
    from pytorch_lightning import seed_everything

    seed_everything(idx, verbose=False)
    model = parity_module_class()()
    dl = model.train_dataloader()
    optimizer = model.configure_optimizers()
    model = model.to(device)
    loss = None
    for _ in range(num_epochs if idx > 0 else 1):
        for j, batch in enumerate(dl):
            batch = [x.to(device) for x in batch]
            loss = model.training_step(batch, j)["loss"]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    return loss.item(), _weights(model)


def parity_lightning_loop(idx: int, device: str, num_epochs: int) -> tuple[float, dict]:
    """The Lightning loop of ``test_pytorch_parity`` (``lightning_loop``), with its Trainer settings."""
    import pytorch_lightning as pl

    pl.seed_everything(idx, verbose=False)
    model = parity_module_class()()
    with _quiet_lightning():
        trainer = pl.Trainer(max_epochs=num_epochs if idx > 0 else 1, enable_progress_bar=False,
                             enable_model_summary=False, enable_checkpointing=False,
                             accelerator="gpu" if device == "cuda" else "cpu", devices=1, logger=False,
                             use_distributed_sampler=False, benchmark=False)
        trainer.fit(model)
    return model._loss[-1], _weights(model)

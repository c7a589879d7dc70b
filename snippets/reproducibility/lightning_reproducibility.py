"""Reproducible training in PyTorch Lightning: seed_everything(workers=True) and Trainer(deterministic=True)."""

# region: not counted (the command line, and the weight hashes run() returns)
import argparse
import hashlib
import sys

from pytorch_lightning.utilities.exceptions import MisconfigurationException
# endregion

try:
    import numpy as np
except ImportError:
    sys.exit("error: this program needs NumPy: pip install numpy")

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset


class AugmentedDataset(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, rng=None):
        self.x, self.y, self.rng = x, y, rng

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index):
        scale = (self.rng or np.random).uniform(0.8, 1.2)
        noise = 0.1 * torch.randn(self.x.shape[1])
        return self.x[index] * scale + noise, self.y[index], torch.tensor(scale)


def make_data(seed: int, n: int = 512, features: int = 10, shared_generator: bool = False):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    rng = np.random.default_rng(seed) if shared_generator else None
    return AugmentedDataset(x[:split], y[:split], rng), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


class Classifier(pl.LightningModule):
    def __init__(self, lr: float = 1e-3):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr

    def training_step(self, batch, batch_idx):
        x, y, scale = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


# region: not counted (collects what run() returns and prints it for the page's log)
class History(pl.Callback):
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.history = {"train_loss": [], "val_loss": []}
        self.draws = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.draws.append([])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.draws[-1].append(batch[2])

    def on_train_epoch_end(self, trainer, pl_module):
        for key in self.history:
            self.history[key].append(trainer.callback_metrics[key].item())
        if self.verbose:
            pl_module.print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
                            f"  train_loss {self.history['train_loss'][-1]:.4f}"
                            f"  val_loss {self.history['val_loss'][-1]:.4f}")
# endregion


def train_once(epochs, seed, device, batch_size, lr, num_workers, seed_workers, shared_generator, verbose) -> dict:
    pl.seed_everything(seed, workers=seed_workers)
    train_set, val_set = make_data(seed, shared_generator=shared_generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr)
    # region: not counted (collects what run() returns)
    history = History(verbose)
    # endregion
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
        # region: not counted (collects what run() returns)
        callbacks=[history],
        # endregion
    )
    trainer.fit(module, train_loader, val_loader)

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in module.model.state_dict().items()}
    return {"history": history.history, "state_dict": state, "steps": trainer.global_step, "draws": history.draws,
            "device": str(module.device)}
    # endregion


# region: not counted (collects what run() returns: weight hashes and what the workers drew)
def digest(state: dict) -> str:
    return hashlib.sha256(b"".join(v.numpy().tobytes() for v in state.values())).hexdigest()[:16]


def draw_report(draws: list) -> dict:
    per_epoch = [[tuple(batch.tolist()) for batch in epoch] for epoch in draws]
    batches = [batch for epoch in per_epoch for batch in epoch]
    return {"batches_with_a_twin": sum(sum(1 for b in epoch if epoch.count(b) > 1) for epoch in per_epoch),
            "epochs_repeating_epoch_1": sum(1 for epoch in per_epoch[1:] if epoch == per_epoch[0]),
            "distinct_draws": len({d for b in batches for d in b}), "total_draws": sum(len(b) for b in batches),
            "epochs": len(per_epoch), "first_batches": [[list(b) for b in epoch[:4]] for epoch in per_epoch],
            "twin_batches_epoch_1": [[i + 1, j + 1] for i, a in enumerate(per_epoch[0])
                                     for j, b in enumerate(per_epoch[0]) if i < j and a == b]}
# endregion


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 1e-3,
        num_workers: int = 2, seed_workers: bool = True, shared_generator: bool = False, runs: int = 2,
        verbose: bool = False) -> dict:
    results = []
    for index in range(runs):
        if verbose:
            print(f"run {index + 1}/{runs}")
        results.append(train_once(epochs, seed, device, batch_size, lr, num_workers, seed_workers, shared_generator,
                                  verbose))
    # region: not counted (collects what run() returns)
    first = results[0]
    digests = [digest(r["state_dict"]) for r in results]
    difference = max(float((a - b).abs().max()) for r in results[1:]
                     for a, b in zip(first["state_dict"].values(), r["state_dict"].values())) if runs > 1 else 0.0
    return {"history": first["history"], "state_dict": first["state_dict"], "steps": first["steps"],
            "device": first["device"], "weight_digests": digests, "run_difference": difference,
            "seed_workers": seed_workers, "shared_generator": shared_generator, **draw_report(first["draws"])}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--no-worker-seeding", action="store_true")
    parser.add_argument("--shared-generator", action="store_true",
                        help="augment with one numpy Generator created with the dataset")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.num_workers < 0 or args.runs < 1:
            raise ValueError("--epochs, --batch-size and --runs must be at least 1, --num-workers at least 0"
                             " and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.num_workers,
                     not args.no_worker_seeding, args.shared_generator, args.runs, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"weights of each run: {' '.join(result['weight_digests'])}"
          f" (max difference {result['run_difference']:g})")
    print(f"augmentation draws: {result['distinct_draws']} distinct of {result['total_draws']};"
          f" {result['batches_with_a_twin']} batches drew the same as another batch of their epoch;"
          f" {result['epochs_repeating_epoch_1']} later epochs repeated epoch 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

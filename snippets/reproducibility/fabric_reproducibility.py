"""Reproducible training with Lightning Fabric: seed_everything(workers=True), deterministic algorithms, your loop."""

# region: not counted (the command line, and the weight hashes run() returns)
import argparse
import hashlib
import sys
# endregion

try:
    import numpy as np
except ImportError:
    sys.exit("error: this program needs NumPy: pip install numpy")

import torch
from lightning_fabric import Fabric, seed_everything
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


def train_once(epochs, seed, device, batch_size, lr, num_workers, seed_workers, shared_generator, verbose) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed, workers=seed_workers)
    torch.use_deterministic_algorithms(True)
    train_set, val_set = make_data(seed, shared_generator=shared_generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    # region: not counted (collects what run() returns)
    history = {"train_loss": [], "val_loss": []}
    draws = []
    # endregion

    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        # region: not counted (collects what run() returns)
        draws.append([])
        # endregion
        for x, y, scale in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
            count += len(x)
            # region: not counted (collects what run() returns)
            draws[-1].append(scale)
            # endregion
        train_loss = total.item() / count

        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
                count += len(x)
        val_loss = total.item() / count
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": epochs * len(train_loader), "draws": draws,
            "device": str(fabric.device)}
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
    except (ValueError, RuntimeError) as error:
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

"""Profiling a training loop with Lightning Fabric and torch.profiler: top operators and labelled sections."""

import argparse
import sys

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 128, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def top_operators(averages, limit: int = 12) -> list:
    ops = [e for e in averages if e.key.startswith("aten::")]
    ops.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [[e.key, e.count, round(e.self_cpu_time_total / 1000, 3)] for e in ops[:limit]]


def labelled_sections(averages, names) -> list:
    found = {e.key: e for e in averages if e.key in names}
    return [[name, found[name].count, round(found[name].cpu_time_total / 1000, 3)] for name in names if name in found]


# region: not counted (collects the values run() returns)
def operator_counts(averages) -> dict:
    return {e.key: e.count for e in averages if e.key.startswith("aten::")}
# endregion


def run(epochs: int = 3, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    steps = 0
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if fabric.device.type == "cuda" else [])

    with profile(activities=activities) as profiler:
        for epoch in range(epochs):
            with record_function("train_epoch"):
                model.train()
                total, count = torch.zeros((), device=fabric.device), 0
                for x, y in train_loader:
                    with record_function("training_step"):
                        loss = loss_fn(model(x), y)
                    with record_function("backward"):
                        optimizer.zero_grad()
                        fabric.backward(loss)
                    with record_function("optimizer_step"):
                        optimizer.step()
                    total += loss.detach() * len(x)
                    count += len(x)
                    steps += 1
                history["train_loss"].append(total.item() / count)

            with record_function("validation"):
                model.eval()
                total, count = torch.zeros((), device=fabric.device), 0
                with torch.no_grad():
                    for x, y in val_loader:
                        total += loss_fn(model(x), y) * len(x)
                        count += len(x)
                history["val_loss"].append(total.item() / count)
            if verbose:
                fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                             f"  val_loss {history['val_loss'][-1]:.4f}")

    averages = profiler.key_averages()
    top_ops = top_operators(averages)
    sections = labelled_sections(averages, ["train_epoch", "training_step", "backward", "optimizer_step", "validation"])
    if verbose:
        fabric.print("top operators by self CPU time (ms):")
        for name, calls, ms in top_ops[:5]:
            fabric.print(f"  {name:<28} {calls:>6} calls  {ms:>9.3f}")
        fabric.print("labelled sections (CPU ms, everything inside included):")
        for name, calls, ms in sections:
            fabric.print(f"  {name:<28} {calls:>6} calls  {ms:>9.3f}")

    # region: not counted (collects the values run() returns)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": steps, "device": str(fabric.device),
            "profiler": "torch.profiler", "top_ops": top_ops, "op_counts": operator_counts(averages),
            "sections": sections}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

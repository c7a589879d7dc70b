"""Validation, test and prediction loops with Lightning Fabric: your own loops, with devices handled by Fabric."""

# region: not counted (the command line)
import argparse
import sys
# endregion

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 600, features: int = 10, new: int = 40):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n + new, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(n + new, 2, generator=generator)).argmax(dim=1)
    train, val = int(0.66 * n), int(0.83 * n)
    return (TensorDataset(x[:train], y[:train]), TensorDataset(x[train:val], y[train:val]),
            TensorDataset(x[val:n], y[val:n]), TensorDataset(x[n:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


# region: not counted (records the modes inside every evaluation pass, for the page)
def observe(modes: dict, stage: str, model: nn.Module) -> None:
    seen = modes.setdefault(stage, {"training": [], "grad_enabled": [], "inference_mode": []})
    for key, value in (("training", model.training), ("grad_enabled", torch.is_grad_enabled()),
                       ("inference_mode", torch.is_inference_mode_enabled())):
        if value not in seen[key]:
            seen[key].append(value)


def split_modes(modes: dict) -> tuple[dict, dict]:
    inference = {stage: seen.pop("inference_mode") for stage, seen in modes.items()}
    return modes, inference
# endregion


def evaluate(model, loader, loss_fn, modes, stage):
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            # region: not counted (records the modes, for the page)
            observe(modes, stage, model)
            # endregion
            logits = model(x)
            loss_sum += loss_fn(logits, y) * len(x)
            correct += (logits.argmax(dim=1) == y).sum()
            count += len(x)
    return loss_sum.item() / count, correct.item() / count


def predict(model, loader, modes):
    model.eval()
    outputs = []
    with torch.no_grad():
        for (x,) in loader:
            # region: not counted (records the modes, for the page)
            observe(modes, "predict", model)
            # endregion
            outputs.append(model(x).softmax(dim=1))
    return torch.cat(outputs)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set, test_set, new_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    new_loader = DataLoader(new_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader, test_loader, new_loader = fabric.setup_dataloaders(
        train_loader, val_loader, test_loader, new_loader)
    loss_fn = nn.CrossEntropyLoss()
    # region: not counted (collects what run() returns)
    history = {"train_loss": [], "val_loss": []}
    modes = {}
    # endregion

    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train_loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
            count += len(x)
        train_loss = total.item() / count
        val_loss, _ = evaluate(model, val_loader, loss_fn, modes, "val")
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion

    final_val_loss, _ = evaluate(model, val_loader, loss_fn, modes, "validate")
    test_loss, test_acc = evaluate(model, test_loader, loss_fn, modes, "test")
    predictions = predict(model, new_loader, modes)
    if verbose:
        fabric.print(f"validate: val_loss {final_val_loss:.4f}")
        fabric.print(f"test: test_loss {test_loss:.4f}  test_acc {test_acc:.4f}")
        fabric.print(f"predict: {len(predictions)} rows, first {predictions[0].tolist()}")

    # region: not counted (collects what run() returns)
    again = predict(model, new_loader, modes)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    modes, inference = split_modes(modes)
    return {"history": history, "state_dict": state, "steps": epochs * len(train_loader),
            "device": str(fabric.device),
            "final_val_loss": final_val_loss, "test_loss": test_loss, "test_acc": test_acc,
            "predictions": predictions.cpu(), "repeat_difference": (predictions - again).abs().max().item(),
            "modes": modes, "inference_mode": inference}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

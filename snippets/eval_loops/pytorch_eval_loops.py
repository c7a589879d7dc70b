"""Validation, test and prediction loops in plain PyTorch: eval mode, no_grad and the averaging, by hand."""

import argparse
import sys

import torch
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


def observe(modes: dict, stage: str, model: nn.Module) -> None:
    seen = modes.setdefault(stage, {"training": [], "grad_enabled": [], "inference_mode": []})
    for key, value in (("training", model.training), ("grad_enabled", torch.is_grad_enabled()),
                       ("inference_mode", torch.is_inference_mode_enabled())):
        if value not in seen[key]:
            seen[key].append(value)


def split_modes(modes: dict) -> tuple[dict, dict]:
    inference = {stage: seen.pop("inference_mode") for stage, seen in modes.items()}
    return modes, inference


def evaluate(model, loader, loss_fn, dev, modes, stage):
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(dev), y.to(dev)
            observe(modes, stage, model)
            logits = model(x)
            loss_sum += loss_fn(logits, y).item() * len(x)
            correct += (logits.argmax(dim=1) == y).sum().item()
            count += len(x)
    return loss_sum / count, correct / count


def predict(model, loader, dev, modes):
    model.eval()
    outputs = []
    with torch.no_grad():
        for (x,) in loader:
            observe(modes, "predict", model)
            outputs.append(model(x.to(dev)).softmax(dim=1).cpu())
    return torch.cat(outputs)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, verbose: bool = False) -> dict:
    torch.manual_seed(seed)
    train_set, val_set, test_set, new_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
    new_loader = DataLoader(new_set, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))

    dev = resolve_device(device)
    model = build_model().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    modes = {}
    steps = 0

    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(dev), y.to(dev)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
            steps += 1
        history["train_loss"].append(total / count)
        history["val_loss"].append(evaluate(model, val_loader, loss_fn, dev, modes, "val")[0])
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                  f"  val_loss {history['val_loss'][-1]:.4f}")

    final_val_loss, _ = evaluate(model, val_loader, loss_fn, dev, modes, "validate")
    test_loss, test_acc = evaluate(model, test_loader, loss_fn, dev, modes, "test")
    predictions = predict(model, new_loader, dev, modes)
    again = predict(model, new_loader, dev, modes)
    if verbose:
        print(f"validate: val_loss {final_val_loss:.4f}")
        print(f"test: test_loss {test_loss:.4f}  test_acc {test_acc:.4f}")
        print(f"predict: {len(predictions)} rows, first {predictions[0].tolist()}")

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    modes, inference = split_modes(modes)
    return {"history": history, "state_dict": state, "steps": steps, "device": str(dev),
            "final_val_loss": final_val_loss, "test_loss": test_loss, "test_acc": test_acc,
            "predictions": predictions, "repeat_difference": (predictions - again).abs().max().item(),
            "modes": modes, "inference_mode": inference}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, verbose=True)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

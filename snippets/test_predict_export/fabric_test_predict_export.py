"""Test, predict and ship with Lightning Fabric: your loops, fabric.save for the best weights, torch.export of the unwrapped module."""

# region: not counted (the command line)
import argparse
import sys
# endregion

from pathlib import Path

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 640, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    return (TensorDataset(x[:409], y[:409]), TensorDataset(x[409:512], y[409:512]),
            TensorDataset(x[512:], y[512:]))


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32, lr: float = 0.03,
        test_with: str = "best", out_dir: str = ".", verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set, test_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)
    test_loader = DataLoader(test_set, batch_size=batch_size)
    predict_loader = DataLoader(TensorDataset(test_set.tensors[0]), batch_size=batch_size)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader, test_loader, predict_loader = fabric.setup_dataloaders(
        train_loader, val_loader, test_loader, predict_loader)
    loss_fn = nn.CrossEntropyLoss()
    best_loss, best_epoch = float("inf"), 0
    # region: not counted (collects what run() returns)
    history = {"train_loss": [], "val_loss": []}
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

        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
                count += len(x)
        val_loss = total.item() / count
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch + 1
            fabric.save(out / "best.ckpt", {"model": model})
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion

    # region: not counted (collects what run() returns)
    final_state = {k: v.detach().cpu().clone() for k, v in model.module.state_dict().items()}
    # endregion
    if test_with == "best":
        fabric.load(out / "best.ckpt", {"model": model})
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in test_loader:
            logits = model(x)
            total += loss_fn(logits, y) * len(x)
            correct += (logits.argmax(dim=1) == y).sum()
            count += len(x)
    test_loss, test_acc = total.item() / count, correct.item() / count
    if verbose:
        fabric.print(f"test ({test_with} weights, epoch {best_epoch if test_with == 'best' else epochs}): "
                     f"test_loss {test_loss:.4f}  test_acc {test_acc:.4f}")

    with torch.no_grad():
        predictions = torch.cat([model(x).cpu() for (x,) in predict_loader])
    torch.save(predictions, out / "predictions.pt")

    network = model.module.cpu()
    exported = torch.export.export(network, (test_set.tensors[0][:8],),
                                   dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(exported, out / "model.pt2")

    # region: not counted (the page's check: the exported program, loaded back, against the predictions)
    shipped = torch.export.load(out / "model.pt2").module()
    with torch.no_grad():
        exported_predictions = shipped(test_set.tensors[0])
        on_cpu = network(test_set.tensors[0])
    if verbose:
        fabric.print(f"wrote predictions.pt {tuple(predictions.shape)} and model.pt2; the exported program computes "
                     f"{'bitwise' if torch.equal(exported_predictions, on_cpu) else 'NOT'} the network's CPU logits")
    return {"history": history, "state_dict": final_state, "steps": epochs * len(train_loader),
            "device": str(fabric.device), "best_epoch": best_epoch,
            "tested_epoch": best_epoch if test_with == "best" else epochs,
            "test_loss": test_loss, "test_accuracy": test_acc, "predictions": predictions,
            "exported_predictions": exported_predictions,
            "export_identical": torch.equal(exported_predictions, on_cpu)}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--test-with", default="best", help="best (the best validation epoch's weights) or final")
    parser.add_argument("--out-dir", default=".", help="folder for the files written (default: here)")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        if args.test_with not in ("best", "final"):
            raise ValueError(f"--test-with {args.test_with!r}: use best or final")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.test_with, args.out_dir,
                     verbose=True)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: tested epoch {result['tested_epoch']}; wrote best.ckpt, predictions.pt and model.pt2 in "
          f"{args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""Per-step gradient norms and per-epoch weight norms recorded by a callback object that Fabric calls."""

# region: not counted (the command line)
import argparse
import sys
# endregion

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(seed: int, n: int = 512, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def grad_norm(model: nn.Module) -> torch.Tensor:
    norms = [torch.linalg.vector_norm(p.grad.detach()) for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms))


def weight_norm(model: nn.Module) -> torch.Tensor:
    norms = [torch.linalg.vector_norm(p.detach()) for p in model.parameters()]
    return torch.linalg.vector_norm(torch.stack(norms))


class NormTracker:
    def __init__(self):
        self.grad_norms = []
        self.weight_norms = []

    def on_before_optimizer_step(self, model, optimizer):
        self.grad_norms.append(grad_norm(model))

    def on_train_epoch_end(self, model):
        self.weight_norms.append(weight_norm(model))


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, verbose: bool = False) -> dict:
    tracker = NormTracker()
    fabric = Fabric(accelerator=device, devices=1, callbacks=[tracker])
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
    step_losses = []
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
            fabric.call("on_before_optimizer_step", model=model, optimizer=optimizer)
            optimizer.step()
            step_losses.append(loss.detach())
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
        fabric.call("on_train_epoch_end", model=model)
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}"
                         f"  last grad norm {tracker.grad_norms[-1]:.4f}  weight norm {tracker.weight_norms[-1]:.4f}")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": epochs * len(train_loader),
            "device": str(fabric.device), "grad_norms": torch.stack(tracker.grad_norms).tolist(),
            "weight_norms": torch.stack(tracker.weight_norms).tolist(), "step_losses": torch.stack(step_losses).tolist()}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
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
    print(f"done: {result['steps']} optimizer steps on {result['device']}, "
          f"{len(result['grad_norms'])} gradient norms recorded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

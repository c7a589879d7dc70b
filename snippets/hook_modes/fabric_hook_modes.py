"""Train and eval modes with Lightning Fabric: your own loop, so model.train(), eval() and no_grad() stay yours."""

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
    y = (x @ teacher + 0.5 * torch.randn(n, 2, generator=generator)).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


def probe(model: nn.Module, x: torch.Tensor, restore_mode: bool = True) -> torch.Tensor:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        value = model(x).softmax(dim=1)[:, 1].mean()
    if restore_mode:
        model.train(was_training)
    return value


# region: not counted (records the modes at each point of the loop, for the page)
def grad_mode() -> str:
    if torch.is_inference_mode_enabled():
        return "inference_mode"
    return "grad" if torch.is_grad_enabled() else "no_grad"


def record(modes: dict, point: str, network: nn.Module) -> None:
    seen = modes.setdefault(point, {"training": [], "grad": []})
    for key, value in (("training", network.training), ("grad", grad_mode())):
        if value not in seen[key]:
            seen[key].append(value)
# endregion


def run(epochs: int = 4, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-2, restore_mode: bool = True, verbose: bool = False) -> dict:
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
    probe_x = fabric.to_device(val_set.tensors[0][:32])
    loss_fn = nn.CrossEntropyLoss()
    # region: not counted (collects what run() returns, and the modes)
    history = {"train_loss": [], "val_loss": [], "probe": [], "bn_batches_tracked": []}
    modes = {}
    record(modes, "on_fit_start", model.module)
    # endregion

    for epoch in range(epochs):
        model.train()
        # region: not counted (records the modes)
        record(modes, "on_train_epoch_start", model.module)
        # endregion
        total, count = 0.0, 0
        for x, y in train_loader:
            # region: not counted (records the modes)
            record(modes, "training_step", model.module)
            # endregion
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
                # region: not counted (records the modes)
                record(modes, "validation_step", model.module)
                # endregion
                total += loss_fn(model(x), y) * len(x)
                count += len(x)
        val_loss = total.item() / count
        # region: not counted (records the modes)
        record(modes, "on_validation_epoch_end", model.module)
        record(modes, "on_train_epoch_end", model.module)
        # endregion
        probe_value = probe(model, probe_x, restore_mode)
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}"
                         f"  probe {probe_value.item():.4f}")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["probe"].append(probe_value.item())
        history["bn_batches_tracked"].append(model.module[1].num_batches_tracked.item())
        # endregion

    # region: not counted (collects what run() returns, and the modes)
    record(modes, "on_fit_end", model.module)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": epochs * len(train_loader),
            "device": str(fabric.device), "modes": modes}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--leave-eval", action="store_true",
                        help="the probe at the end of each epoch leaves the network in eval mode")
    args = parser.parse_args(argv)
    try:
        if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError("--epochs and --batch-size must be at least 1 and --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr,
                     restore_mode=not args.leave_eval, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

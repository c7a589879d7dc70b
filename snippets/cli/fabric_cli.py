"""The command line with Lightning Fabric: argparse as in plain PyTorch, a JSON config file that options on the command line override, and --print-config."""

import argparse
import json
import sys
# region: not counted (the page's check: runs the command line twice and captures what it prints)
import contextlib
import io
# endregion
from pathlib import Path

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


def build_model(hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, 2))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="a JSON file of option values; options given on the command line override it")
    parser.add_argument("--print-config", action="store_true", help="print the resolved options as JSON and exit")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=16, help="width of the hidden layer")
    args = parser.parse_args(argv)
    if args.config:
        with open(args.config) as file:
            values = json.load(file)
        unknown = set(values) - set(vars(args))
        if unknown:
            raise ValueError(f"{args.config}: unknown option(s) {', '.join(sorted(unknown))}")
        parser.set_defaults(**values)
        args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.hidden < 1:
        raise ValueError("--epochs, --batch-size and --hidden must be at least 1 and --lr positive")
    if args.device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
    return args


def resolved(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if k not in ("config", "print_config")}


def train(epochs: int, seed: int, device: str, batch_size: int, lr: float, hidden: int, verbose: bool = True) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model(hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
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
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion

    # region: not counted (collects what run() returns)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": epochs * len(train_loader), "device": str(fabric.device)}
    # endregion


def cli(argv=None, verbose: bool = True) -> dict | None:
    args = parse_args(argv)
    if args.print_config:
        print(json.dumps(resolved(args), indent=2))
        return None
    return train(**resolved(args), verbose=verbose)


# region: not counted (the page's check: a config file and an override, then the printed config run again)
def run(epochs: int = 3, seed: int = 0, device: str = "auto", lr: float = 0.01, out_dir: str = ".",
        verbose: bool = False) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = {"epochs": epochs, "seed": seed, "device": device, "batch_size": 32, "lr": 1e-3, "hidden": 16}
    (out / "fabric_config.json").write_text(json.dumps(base, indent=2) + "\n")
    command = ["--config", str(out / "fabric_config.json"), "--lr", str(lr)]
    if verbose:
        print("$ python fabric_cli.py " + " ".join(command))
    first = cli(command, verbose)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        cli(command + ["--print-config"])
    (out / "fabric_resolved.json").write_text(printed.getvalue())
    if verbose:
        print("$ python fabric_cli.py --config fabric_resolved.json")
    second = cli(["--config", str(out / "fabric_resolved.json")], verbose)
    difference = max((first["state_dict"][k] - second["state_dict"][k]).abs().max().item() for k in first["state_dict"])
    if verbose:
        print(f"run again from the printed config: weights {'bitwise the same' if difference == 0 else 'DIFFERENT'}")
    values = json.loads(printed.getvalue())
    typed = f"python fabric_cli.py --config fabric_config.json --lr {lr}"
    return {**first, "command": typed, "print_command": typed + " --print-config",
            "rerun_command": "python fabric_cli.py --config fabric_resolved.json",
            "config_given": json.dumps(base, indent=2) + "\n", "config_printed": printed.getvalue(),
            "resolved": {"epochs": values["epochs"], "seed": values["seed"], "lr": values["lr"],
                         "hidden": values["hidden"], "batch_size": values["batch_size"]},
            "reproduced_difference": difference}


def main(argv=None) -> int:
    try:
        result = cli(argv)
    except (ValueError, OSError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if result is not None:
        print(f"done: {result['steps']} optimizer steps on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

"""Mixed-precision training with Lightning Fabric: your loop, with Fabric(precision=...) handling autocast and scaling."""

import argparse
import sys

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

PRECISIONS = {"32-true": torch.float32, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def make_data(seed: int, n: int = 1024, features: int = 32):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, 4, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    split = int(0.8 * n)
    return TensorDataset(x[:split], y[:split]), TensorDataset(x[split:], y[split:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 4))


def check_precision(precision: str, device: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    if precision == "16-mixed" and (device == "cpu" or not torch.cuda.is_available()):
        raise ValueError("--precision 16-mixed (fp16 with GradScaler) needs a CUDA GPU; on the CPU use bf16-mixed")


def run(epochs: int = 10, seed: int = 0, device: str = "auto", precision: str = "bf16-mixed",
        batch_size: int = 32, lr: float = 1e-3, verbose: bool = False) -> dict:
    check_precision(precision, device)
    fabric = Fabric(accelerator=device, devices=1, precision=precision)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model()
    # region: not counted (collects what run() returns)
    compute_dtypes = set()
    model[2].register_forward_hook(lambda module, inputs, output: compute_dtypes.add(str(output.dtype)))
    # endregion
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    # region: not counted (collects what run() returns)
    history = {"train_loss": [], "val_loss": []}
    steps = 0
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
            # region: not counted (collects what run() returns)
            steps += 1
            # endregion
        train_loss = total.item() / count

        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
                count += len(x)
        val_loss = total.item() / count
        # region: not counted (collects what run() returns)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        # endregion
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  train_loss {train_loss:.4f}  val_loss {val_loss:.4f}")

    # region: not counted (collects what run() returns)
    scaler = getattr(fabric.strategy.precision, "scaler", None)
    state = {k: v.detach().cpu() for k, v in model.module.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": steps, "device": str(fabric.device),
            "precision": precision, "compute_dtype": sorted(compute_dtypes),
            "weight_dtype": str(next(model.module.parameters()).dtype),
            "grad_scale": scaler.get_scale() if scaler is not None else None}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--precision", default="bf16-mixed", choices=tuple(PRECISIONS),
                        help="16-mixed needs a CUDA GPU")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.precision, args.batch_size, args.lr, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']} with precision {result['precision']}"
          f" (layers computed in {', '.join(result['compute_dtype'])}, weights kept in {result['weight_dtype']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

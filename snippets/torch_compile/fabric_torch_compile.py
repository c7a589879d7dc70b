"""torch.compile with Lightning Fabric: a compiled model handed to fabric.setup, eager and compiled runs timed."""

import argparse
import statistics
import sys
import time

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


def compile_problem(dev: torch.device):
    start = time.perf_counter()
    try:
        torch.compile(lambda t: torch.relu(t) + 1)(torch.ones(4, device=dev))
    except Exception as error:
        lines = str(error).strip().splitlines()
        return f"{type(error).__name__}: {lines[0] if lines else 'no message'}", time.perf_counter() - start
    finally:
        torch.compiler.reset()
    return None, time.perf_counter() - start


def train(mode: str, epochs: int, seed: int, fabric: Fabric, batch_size: int, lr: float, verbose: bool):
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    net = build_model()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    model, optimizer = fabric.setup(torch.compile(net) if mode == "compiled" else net, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_loss": []}
    step_s = []

    for epoch in range(epochs):
        model.train()
        total, count = torch.zeros((), device=fabric.device), 0
        for x, y in train_loader:
            start = time.perf_counter()
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            total += loss.detach() * len(x)
            count += len(x)
            if fabric.device.type == "cuda":
                torch.cuda.synchronize()
            step_s.append(time.perf_counter() - start)
        history["train_loss"].append(total.item() / count)

        model.eval()
        total, count = torch.zeros((), device=fabric.device), 0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
                count += len(x)
        history["val_loss"].append(total.item() / count)
        if verbose:
            fabric.print(f"{mode:>8}  epoch {epoch + 1}/{epochs}  train_loss {history['train_loss'][-1]:.4f}"
                         f"  val_loss {history['val_loss'][-1]:.4f}")

    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    timing = {"first_step_s": step_s[0], "median_step_s": statistics.median(step_s[1:] or step_s)}
    return history, state, len(step_s), timing


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, compile: bool = True, verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    problem, check_s = compile_problem(fabric.device) if compile else ("switched off by --no-compile", 0.0)
    if verbose:
        print(f"note: torch.compile not used ({problem}); running eager only" if problem
              else f"torch.compile works here (first compile of a one-line check: {check_s:.2f} s)")

    eager_history, eager_state, eager_steps, eager_timing = train("eager", epochs, seed, fabric, batch_size, lr,
                                                                  verbose)
    if problem:
        history, state, steps, timing = eager_history, eager_state, 0, eager_timing
    else:
        torch.compiler.reset()
        history, state, steps, timing = train("compiled", epochs, seed, fabric, batch_size, lr, verbose)

    difference = max(float((state[k].double() - eager_state[k].double()).abs().max()) for k in state)
    speedup = eager_timing["median_step_s"] / timing["median_step_s"]
    if verbose:
        for mode, t in [("eager", eager_timing)] + ([] if problem else [("compiled", timing)]):
            print(f"{mode:>8}  first step {1000 * t['first_step_s']:.1f} ms"
                  f"  median step {1000 * t['median_step_s']:.3f} ms")
        if not problem:
            print(f"compiled vs eager: max |weight difference| {difference:.3g},"
                  f" steady-state speed-up x{speedup:.2f}")
    # region: not counted (collects the values run() returns)
    return {"history": history, "state_dict": state, "eager_history": eager_history,
            "eager_state_dict": eager_state, "steps": eager_steps + steps, "device": str(fabric.device),
            "compiled": problem is None, "compile_note": problem or "", "check_s": check_s,
            "step_timing": {"eager": eager_timing, "compiled": timing},
            "speedup": speedup, "compiled_vs_eager": difference}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--no-compile", action="store_true", help="run the eager model only")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr,
                     compile=not args.no_compile, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}"
          f" (compiled: {'yes' if result['compiled'] else 'no'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

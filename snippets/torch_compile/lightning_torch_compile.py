"""torch.compile in PyTorch Lightning: the inner model compiled in configure_model, eager and compiled runs timed."""

import argparse
import statistics
import sys
import time

import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.exceptions import MisconfigurationException
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


class Classifier(pl.LightningModule):
    def __init__(self, lr: float, compiled: bool, mode: str, verbose: bool):
        super().__init__()
        self.model = build_model()
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr
        self.compiled = compiled
        self.mode = mode
        self.verbose = verbose
        # region: not counted (collects the values run() returns)
        self.history = {"train_loss": [], "val_loss": []}
        # endregion

    def configure_model(self):
        if self.compiled:
            self.model = torch.compile(self.model)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self.model(x), y))

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        # region: not counted (collects the values run() returns)
        self.history["train_loss"].append(metrics["train_loss"].item())
        self.history["val_loss"].append(metrics["val_loss"].item())
        # endregion
        if self.verbose:
            self.print(f"{self.mode:>8}  epoch {self.current_epoch + 1}/{self.trainer.max_epochs}"
                       f"  train_loss {metrics['train_loss']:.4f}  val_loss {metrics['val_loss']:.4f}")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class StepTimer(pl.Callback):
    def __init__(self):
        self.step_s = []
        self.start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        self.step_s.append(time.perf_counter() - self.start)


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


def train(mode: str, epochs: int, seed: int, device: str, batch_size: int, lr: float, verbose: bool):
    pl.seed_everything(seed)
    train_set, val_set = make_data(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=batch_size)

    module = Classifier(lr=lr, compiled=mode == "compiled", mode=mode, verbose=verbose)
    timer = StepTimer()
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        callbacks=[timer],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, train_loader, val_loader)

    network = getattr(module.model, "_orig_mod", module.model)
    state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    step_s = timer.step_s
    timing = {"first_step_s": step_s[0], "median_step_s": statistics.median(step_s[1:] or step_s)}
    return module.history, state, trainer.global_step, timing, str(module.device)


def run(epochs: int = 5, seed: int = 0, device: str = "auto", batch_size: int = 32,
        lr: float = 1e-3, compile: bool = True, verbose: bool = False) -> dict:
    dev = torch.device("cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")
    problem, check_s = compile_problem(dev) if compile else ("switched off by --no-compile", 0.0)
    if verbose:
        print(f"note: torch.compile not used ({problem}); running eager only" if problem
              else f"torch.compile works here (first compile of a one-line check: {check_s:.2f} s)")

    eager_history, eager_state, eager_steps, eager_timing, used = train("eager", epochs, seed, device,
                                                                        batch_size, lr, verbose)
    if problem:
        history, state, steps, timing = eager_history, eager_state, 0, eager_timing
    else:
        torch.compiler.reset()
        history, state, steps, timing, used = train("compiled", epochs, seed, device, batch_size, lr, verbose)

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
            "eager_state_dict": eager_state, "steps": eager_steps + steps, "device": used,
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
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps on {result['device']}"
          f" (compiled: {'yes' if result['compiled'] else 'no'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

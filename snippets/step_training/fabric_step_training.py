"""Training by steps with Lightning Fabric: your loop counts steps, validates and saves every n, and resumes mid-epoch from fabric.load."""

# region: not counted (the command line, and the page's experiment)
import argparse
import math
import sys
import warnings
# endregion

import itertools
import os

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset


def make_data(seed: int, train_size: int = 200, val_size: int = 64, features: int = 10):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(train_size + val_size, features, generator=generator)
    teacher = torch.randn(features, 2, generator=generator)
    y = (x @ teacher).argmax(dim=1)
    return TensorDataset(x[:train_size], y[:train_size]), TensorDataset(x[train_size:], y[train_size:])


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 2))


def evaluate(model: nn.Module, loader: DataLoader, loss_fn) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            total += loss_fn(model(x), y) * len(x)
            count += len(x)
    model.train()
    return total.item() / count


def train(max_steps: int, seed: int, device: str, batch_size: int, lr: float, val_every: int, ckpt_every: int,
          ckpt_dir: str, epochs: int | None = None, resume_from: str | None = None, verbose: bool = False):
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    train_set, val_set = make_data(seed)
    generator = torch.Generator().manual_seed(seed)
    sampler = SubsetRandomSampler(range(len(train_set)), generator=generator)
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler, generator=generator)
    val_loader = DataLoader(val_set, batch_size=batch_size)

    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model, optimizer = fabric.setup(model, optimizer)
    train_loader, val_loader = fabric.setup_dataloaders(train_loader, val_loader)
    loss_fn = nn.CrossEntropyLoss()
    state = {"model": model, "optimizer": optimizer, "step": 0, "epoch": 0, "position": 0,
             "epoch_start": generator.get_state()}
    # region: not counted (the values run() returns)
    history = {"val_loss": [], "val_step": []}
    # endregion
    if resume_from is not None:
        fabric.load(resume_from, state)
        generator.set_state(state["epoch_start"])

    model.train()
    while state["step"] < max_steps and (epochs is None or state["epoch"] < epochs):
        state["epoch_start"] = generator.get_state()
        for x, y in itertools.islice(train_loader, state["position"], None):
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            fabric.backward(loss)
            optimizer.step()
            state["step"] += 1
            state["position"] += 1
            step = state["step"]
            if step % val_every == 0:
                val_loss = evaluate(model, val_loader, loss_fn)
                if verbose:
                    fabric.print(f"step {step}/{max_steps}  epoch {state['epoch']}  val_loss {val_loss:.4f}")
                # region: not counted (the values run() returns)
                history["val_loss"].append(val_loss)
                history["val_step"].append(step)
                # endregion
            if step % ckpt_every == 0:
                fabric.save(os.path.join(ckpt_dir, f"step={step}.ckpt"), state)
            if step == max_steps:
                break
        if state["position"] == len(train_loader):
            state["epoch"], state["position"] = state["epoch"] + 1, 0
    return model.module, history, state["step"], fabric.device


# region: not counted (the page's experiment: uninterrupted, then resumed from a checkpoint of that run, compared)
def run(max_steps: int = 30, seed: int = 0, device: str = "auto", batch_size: int = 16, lr: float = 0.1,
        val_every: int = 10, ckpt_every: int = 10, resume_from: int = 20, epochs: int | None = None,
        ckpt_dir: str = "checkpoints_fabric", verbose: bool = False) -> dict:
    if resume_from % ckpt_every or not 0 < resume_from < max_steps:
        raise ValueError(f"--resume-from must be a multiple of --ckpt-every ({ckpt_every}) below --max-steps")
    if verbose:
        print(f"-- uninterrupted: {max_steps} steps, checkpoints every {ckpt_every}")
    reference, reference_history, reference_steps, _ = train(max_steps, seed, device, batch_size, lr, val_every,
                                                             ckpt_every, ckpt_dir, epochs, verbose=verbose)
    path = os.path.join(ckpt_dir, f"step={resume_from}.ckpt")
    if not os.path.exists(path):
        raise ValueError(f"no checkpoint at step {resume_from}: the run ended at step {reference_steps}")
    if verbose:
        print(f"-- resumed from {os.path.basename(path)}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, after, steps, dev = train(max_steps, seed, device, batch_size, lr, val_every, ckpt_every, ckpt_dir,
                                         epochs, resume_from=path, verbose=verbose)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    expected = {k: v.detach().cpu() for k, v in reference.state_dict().items()}
    before = [i for i, s in enumerate(reference_history["val_step"]) if s <= resume_from]
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return {"history": {k: [reference_history[k][i] for i in before] + after[k] for k in after},
            "state_dict": state, "steps": reference_steps + steps - resume_from, "global_step": steps,
            "device": str(dev), "uninterrupted_history": reference_history,
            "bitwise_equal": all(torch.equal(state[k], expected[k]) for k in state),
            "resume_difference": max((state[k] - expected[k]).abs().max().item() for k in state),
            "checkpoints": sorted(os.listdir(ckpt_dir), key=lambda name: int(name.split("=")[1].split(".")[0])),
            "resumed_from": os.path.basename(path), "batches_per_epoch": math.ceil(len(make_data(seed)[0]) / batch_size),
            "checkpoint_epoch": checkpoint["epoch"], "checkpoint_batch": checkpoint["position"],
            "warnings": [{"category": w.category.__name__,
                          "message": str(w.message).replace(os.path.realpath(ckpt_dir), ckpt_dir)} for w in caught
                         if issubclass(w.category, UserWarning)]}
# endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-steps", type=int, default=30, help="optimizer steps to train")
    parser.add_argument("--epochs", type=int, help="stop after this many epochs, if earlier (default: no limit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--val-every", type=int, default=10, help="validate every n optimizer steps")
    parser.add_argument("--ckpt-every", type=int, default=10, help="save a checkpoint every n optimizer steps")
    parser.add_argument("--resume-from", type=int, default=20, help="the step whose checkpoint the second run resumes")
    parser.add_argument("--ckpt-dir", default="checkpoints_fabric", help="folder for the checkpoints")
    args = parser.parse_args(argv)
    try:
        if args.epochs is not None and args.epochs < 1:
            raise ValueError("--epochs must be at least 1")
        if min(args.max_steps, args.batch_size, args.val_every, args.ckpt_every) < 1 or args.lr <= 0:
            raise ValueError("--max-steps, --batch-size, --val-every and --ckpt-every must be at least 1, --lr positive")
        if args.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"unknown device {args.device!r}: use auto, cpu or cuda")
        result = run(args.max_steps, args.seed, args.device, args.batch_size, args.lr, args.val_every,
                     args.ckpt_every, args.resume_from, args.epochs, args.ckpt_dir, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for caught in result["warnings"]:
        print(f"{caught['category']} during the resumed run -- {caught['message']}")
    verdict = "bitwise equal to" if result["bitwise_equal"] else "DIFFERENT from"
    print(f"done: resumed weights {verdict} the uninterrupted run (max |difference| {result['resume_difference']:.3g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

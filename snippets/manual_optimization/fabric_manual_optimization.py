"""A small GAN on 2-D points with Lightning Fabric: your alternating loop, two models and optimizers set up by Fabric."""

import argparse
import math
import sys

import torch
from lightning_fabric import Fabric, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LATENT = 4


def make_data(seed: int, n: int = 500):
    generator = torch.Generator().manual_seed(seed)
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    radius = 2.0 + 0.1 * torch.randn(n, generator=generator)
    return TensorDataset(torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1))


def build_networks() -> nn.ModuleDict:
    return nn.ModuleDict({
        "generator": nn.Sequential(nn.Linear(LATENT, 32), nn.ReLU(), nn.Linear(32, 2)),
        "discriminator": nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1)),
    })


def run(epochs: int = 20, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 2e-3, points: int = 500, verbose: bool = False) -> dict:
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    loader = DataLoader(make_data(seed, points), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    noise = torch.Generator().manual_seed(seed + 1)
    fixed_z = torch.randn(256, LATENT, generator=torch.Generator().manual_seed(seed + 2))

    nets = build_networks()
    opt_g = torch.optim.Adam(nets["generator"].parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(nets["discriminator"].parameters(), lr=lr, betas=(0.5, 0.999))
    generator, opt_g = fabric.setup(nets["generator"], opt_g)
    discriminator, opt_d = fabric.setup(nets["discriminator"], opt_d)
    loader = fabric.setup_dataloaders(loader)
    loss_fn = nn.BCEWithLogitsLoss()
    # region: not counted (collects what run() returns)
    history = {"d_loss": [], "g_loss": [], "fake_radius": []}
    steps = 0
    # endregion

    for epoch in range(epochs):
        nets.train()
        d_total, g_total, count = 0.0, 0.0, 0
        for (real,) in loader:
            ones = torch.ones(len(real), 1, device=fabric.device)
            zeros = torch.zeros(len(real), 1, device=fabric.device)
            z = torch.randn(len(real), LATENT, generator=noise).to(fabric.device)
            fake = generator(z)

            d_loss = loss_fn(discriminator(real), ones) + loss_fn(discriminator(fake.detach()), zeros)
            opt_d.zero_grad()
            fabric.backward(d_loss)
            opt_d.step()

            g_loss = loss_fn(discriminator(fake), ones)
            opt_g.zero_grad()
            fabric.backward(g_loss)
            opt_g.step()

            d_total += d_loss.detach() * len(real)
            g_total += g_loss.detach() * len(real)
            count += len(real)
            # region: not counted (collects what run() returns)
            steps += 2
            # endregion
        d_mean, g_mean = d_total.item() / count, g_total.item() / count

        nets.eval()
        with torch.no_grad():
            fake_radius = generator(fixed_z.to(fabric.device)).norm(dim=1).mean().item()
        # region: not counted (collects what run() returns)
        history["d_loss"].append(d_mean)
        history["g_loss"].append(g_mean)
        history["fake_radius"].append(fake_radius)
        # endregion
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  d_loss {d_mean:.4f}  g_loss {g_mean:.4f}"
                         f"  fake_radius {fake_radius:.4f}")

    # region: not counted (collects what run() returns)
    with torch.no_grad():
        generated = generator(fixed_z.to(fabric.device)).cpu()
    state = {k: v.detach().cpu() for k, v in nets.state_dict().items()}
    return {"history": history, "state_dict": state, "steps": steps, "device": str(fabric.device),
            "generated": generated.tolist()}
    # endregion


# region: not counted (the command line)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--points", type=int, default=500)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code
    if args.device not in ("auto", "cpu", "cuda"):
        print(f"error: unknown device {args.device!r}: use auto, cpu or cuda", file=sys.stderr)
        return 2
    if args.epochs < 1 or args.batch_size < 1 or args.points < 1 or args.lr <= 0:
        print("error: --epochs, --batch-size and --points must be at least 1 and --lr positive", file=sys.stderr)
        return 2
    try:
        result = run(args.epochs, args.seed, args.device, args.batch_size, args.lr, args.points, verbose=True)
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps (two per batch) on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

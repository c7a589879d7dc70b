"""A small GAN on 2-D points with Lightning Fabric: your alternating loop, two models and optimizers set up by Fabric."""

import argparse
import math

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
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    fabric = Fabric(accelerator=device, devices=1)
    seed_everything(seed)
    loader = DataLoader(make_data(seed, points), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    noise = torch.Generator().manual_seed(seed + 1)
    fixed_z = fabric.to_device(torch.randn(256, LATENT, generator=torch.Generator().manual_seed(seed + 2)))

    nets = build_networks()
    opt_g = torch.optim.Adam(nets["generator"].parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(nets["discriminator"].parameters(), lr=lr, betas=(0.5, 0.999))
    generator, opt_g = fabric.setup(nets["generator"], opt_g)
    discriminator, opt_d = fabric.setup(nets["discriminator"], opt_d)
    loader = fabric.setup_dataloaders(loader)
    loss_fn = nn.BCEWithLogitsLoss()
    history = {"d_loss": [], "g_loss": [], "fake_radius": []}

    for epoch in range(epochs):
        nets.train()
        d_total, g_total = 0.0, 0.0
        for (real,) in loader:
            ones = torch.ones(len(real), 1, device=fabric.device)
            zeros = torch.zeros(len(real), 1, device=fabric.device)
            fake = generator(fabric.to_device(torch.randn(len(real), LATENT, generator=noise)))

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
        history["d_loss"].append(d_total.item() / points)
        history["g_loss"].append(g_total.item() / points)

        nets.eval()
        with torch.no_grad():
            history["fake_radius"].append(generator(fixed_z).norm(dim=1).mean().item())
        if verbose:
            fabric.print(f"epoch {epoch + 1}/{epochs}  " + "  ".join(f"{k} {v[-1]:.4f}" for k, v in history.items()))

    with torch.no_grad():
        samples = generator(fixed_z).cpu()
    return {"model": nets, "history": history, "samples": samples}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, verbose=True)
    except (ValueError, RuntimeError) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

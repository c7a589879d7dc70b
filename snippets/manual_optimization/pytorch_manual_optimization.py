"""A small GAN on 2-D points in plain PyTorch: two networks, two optimizers, alternating updates by hand."""

import argparse
import math

import torch
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


def resolve_device(name: str) -> torch.device:
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available")
    return torch.device(name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu")


def run(epochs: int = 20, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 2e-3, points: int = 500, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    torch.manual_seed(seed)
    loader = DataLoader(make_data(seed, points), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    noise = torch.Generator().manual_seed(seed + 1)
    dev = resolve_device(device)
    fixed_z = torch.randn(256, LATENT, generator=torch.Generator().manual_seed(seed + 2)).to(dev)

    nets = build_networks().to(dev)
    generator, discriminator = nets["generator"], nets["discriminator"]
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    loss_fn = nn.BCEWithLogitsLoss()
    history = {"d_loss": [], "g_loss": [], "fake_radius": []}

    for epoch in range(epochs):
        nets.train()
        d_total, g_total = 0.0, 0.0
        for (real,) in loader:
            real = real.to(dev)
            ones = torch.ones(len(real), 1, device=dev)
            zeros = torch.zeros(len(real), 1, device=dev)
            fake = generator(torch.randn(len(real), LATENT, generator=noise).to(dev))

            d_loss = loss_fn(discriminator(real), ones) + loss_fn(discriminator(fake.detach()), zeros)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()

            g_loss = loss_fn(discriminator(fake), ones)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()

            d_total += d_loss.detach() * len(real)
            g_total += g_loss.detach() * len(real)
        history["d_loss"].append(d_total.item() / points)
        history["g_loss"].append(g_total.item() / points)

        nets.eval()
        with torch.no_grad():
            history["fake_radius"].append(generator(fixed_z).norm(dim=1).mean().item())
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}  " + "  ".join(f"{k} {v[-1]:.4f}" for k, v in history.items()))

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
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A small GAN on 2-D points in PyTorch Lightning with manual optimization: two optimizers, alternating updates."""

import argparse
import math

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import MisconfigurationException
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


class GAN(pl.LightningModule):
    def __init__(self, seed: int = 0, lr: float = 2e-3):
        super().__init__()
        self.automatic_optimization = False
        self.nets = build_networks()
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.lr = lr
        self.noise = torch.Generator().manual_seed(seed + 1)

    def training_step(self, batch, batch_idx):
        (real,) = batch
        generator, discriminator = self.nets["generator"], self.nets["discriminator"]
        opt_g, opt_d = self.optimizers()
        ones = torch.ones(len(real), 1, device=self.device)
        zeros = torch.zeros(len(real), 1, device=self.device)
        fake = generator(torch.randn(len(real), LATENT, generator=self.noise).to(self.device))

        self.toggle_optimizer(opt_d)
        d_loss = self.loss_fn(discriminator(real), ones) + self.loss_fn(discriminator(fake.detach()), zeros)
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        self.toggle_optimizer(opt_g)
        g_loss = self.loss_fn(discriminator(fake), ones)
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self.log_dict({"d_loss": d_loss, "g_loss": g_loss}, on_step=False, on_epoch=True, prog_bar=True)

    def validation_step(self, batch, batch_idx):
        (z,) = batch
        self.log("fake_radius", self.nets["generator"](z).norm(dim=1).mean(), prog_bar=True)

    def configure_optimizers(self):
        opt_g = torch.optim.Adam(self.nets["generator"].parameters(), lr=self.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(self.nets["discriminator"].parameters(), lr=self.lr, betas=(0.5, 0.999))
        return [opt_g, opt_d]


def run(epochs: int = 20, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 2e-3, points: int = 500, verbose: bool = False) -> dict:
    if epochs < 1:
        raise ValueError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    pl.seed_everything(seed)
    loader = DataLoader(make_data(seed, points), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    fixed_z = torch.randn(256, LATENT, generator=torch.Generator().manual_seed(seed + 2))

    module = GAN(seed=seed, lr=lr)
    trainer = pl.Trainer(max_epochs=epochs, accelerator=device, devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=verbose, enable_model_summary=verbose)
    trainer.fit(module, loader, DataLoader(TensorDataset(fixed_z), batch_size=256))

    with torch.no_grad():
        samples = module.nets["generator"](fixed_z.to(module.device)).cpu()
    return {"model": module.nets, "samples": samples}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args(argv)
    try:
        run(args.epochs, args.seed, args.device, verbose=True)
    except (ValueError, MisconfigurationException) as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A small GAN on 2-D points in PyTorch Lightning with manual optimization: two optimizers, alternating updates."""

import argparse
import math
import sys

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
    def __init__(self, seed: int = 0, lr: float = 2e-3, verbose: bool = False):
        super().__init__()
        self.automatic_optimization = False
        self.nets = build_networks()
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.lr = lr
        self.verbose = verbose
        self.noise = torch.Generator().manual_seed(seed + 1)
        self.fixed_z = torch.randn(256, LATENT, generator=torch.Generator().manual_seed(seed + 2))
        # region: not counted (collects what run() returns)
        self.history = {"d_loss": [], "g_loss": [], "fake_radius": []}
        # endregion

    def training_step(self, batch, batch_idx):
        (real,) = batch
        generator, discriminator = self.nets["generator"], self.nets["discriminator"]
        opt_g, opt_d = self.optimizers()
        ones = torch.ones(len(real), 1, device=self.device)
        zeros = torch.zeros(len(real), 1, device=self.device)
        z = torch.randn(len(real), LATENT, generator=self.noise).to(self.device)
        fake = generator(z)

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

        self.log("d_loss", d_loss, on_step=False, on_epoch=True)
        self.log("g_loss", g_loss, on_step=False, on_epoch=True)

    def on_train_epoch_end(self):
        metrics = self.trainer.callback_metrics
        self.nets.eval()
        with torch.no_grad():
            fake_radius = self.nets["generator"](self.fixed_z.to(self.device)).norm(dim=1).mean().item()
        self.nets.train()
        # region: not counted (collects what run() returns)
        self.history["d_loss"].append(metrics["d_loss"].item())
        self.history["g_loss"].append(metrics["g_loss"].item())
        self.history["fake_radius"].append(fake_radius)
        # endregion
        if self.verbose:
            self.print(f"epoch {self.current_epoch + 1}/{self.trainer.max_epochs}  d_loss {metrics['d_loss']:.4f}"
                       f"  g_loss {metrics['g_loss']:.4f}  fake_radius {fake_radius:.4f}")

    def configure_optimizers(self):
        opt_g = torch.optim.Adam(self.nets["generator"].parameters(), lr=self.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(self.nets["discriminator"].parameters(), lr=self.lr, betas=(0.5, 0.999))
        return [opt_g, opt_d]


def run(epochs: int = 20, seed: int = 0, device: str = "auto", batch_size: int = 64,
        lr: float = 2e-3, points: int = 500, verbose: bool = False) -> dict:
    pl.seed_everything(seed)
    loader = DataLoader(make_data(seed, points), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))

    module = GAN(seed=seed, lr=lr, verbose=verbose)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=device,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=verbose,
        enable_model_summary=verbose,
    )
    trainer.fit(module, loader)

    # region: not counted (collects what run() returns)
    with torch.no_grad():
        generated = module.nets["generator"](module.fixed_z.to(module.device)).cpu()
    state = {k: v.detach().cpu() for k, v in module.nets.state_dict().items()}
    return {"history": module.history, "state_dict": state, "steps": trainer.global_step,
            "device": str(module.device), "generated": generated.tolist()}
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
    except (ValueError, MisconfigurationException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"done: {result['steps']} optimizer steps (two per batch) on {result['device']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
# endregion

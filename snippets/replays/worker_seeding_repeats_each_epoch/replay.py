"""seed_everything(workers=True): a dataloader worker draws the same torch random numbers every epoch
(Lightning #20412).

The dataset adds noise drawn with torch.distributions, as a random augmentation would. With
seed_everything(0, workers=True) Lightning seeds each worker through pl_worker_init_function.
A fresh worker starts every epoch; its noise should differ from one epoch to the next.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class NoisyDataset(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        noise = torch.distributions.Normal(0.0, 1.0).sample((1,))
        return torch.full((1,), float(index)) + noise


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)
        self.seen = {}

    def training_step(self, batch, batch_idx):
        self.seen.setdefault(self.current_epoch, []).extend(batch.flatten().tolist())
        return self.layer(batch).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run() -> dict:
    pl.seed_everything(0, workers=True)
    model = Model()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_epochs=2, default_root_dir=root, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
        )
        trainer.fit(model, DataLoader(NoisyDataset(), batch_size=2, num_workers=1))
    return {"epoch_0_samples": model.seen[0], "epoch_1_samples": model.seen[1]}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")

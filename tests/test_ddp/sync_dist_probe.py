"""What `self.log(..., sync_dist=True)` gives on two gloo ranks holding different numbers of samples.

Run as a script (`python sync_dist_probe.py OUT.json`): `Trainer(strategy="ddp", devices=2)` starts the
second rank by running this file again. Each case validates once; rank 0 holds three samples of 1.0,
rank 1 holds the case's samples of 5.0, all in one batch per rank. Rank 0 writes, per case, the
epoch-level value (`on_epoch=True`, the default in validation) and the step-level value
(`on_step=True`) that every rank saw.
"""

import json
import sys

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset

CASES = {"one_sample_of_5": 1, "two_samples_of_5": 2}


class Rows(IterableDataset):
    def __init__(self, fives: int):
        self.fives = fives

    def __iter__(self):
        rows = [1.0, 1.0, 1.0] if dist.get_rank() == 0 else [5.0] * self.fives
        yield torch.tensor(rows)


class Probe(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.step_values = []

    def validation_step(self, batch, batch_idx):
        value = batch.mean()
        self.log("epoch_value", value, sync_dist=True, batch_size=len(batch))
        self.log("step_value", value, sync_dist=True, on_step=True, on_epoch=False, batch_size=len(batch))

    def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
        self.step_values.append(self.trainer.logged_metrics["step_value"].item())


def main(out: str) -> None:
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    probe = Probe()
    results = {}
    for case, fives in CASES.items():
        probe.step_values = []
        (metrics,) = trainer.validate(probe, DataLoader(Rows(fives), batch_size=None), verbose=False)
        results[case] = {"epoch_value": metrics["epoch_value"], "step_value": probe.step_values[0]}
    if trainer.global_rank == 0:
        with open(out, "w") as file:
            json.dump(results, file)


if __name__ == "__main__":
    main(sys.argv[1])

"""evidence/running/gather.py: what the harness reads around a program's run, changing nothing."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from evidence.running import gather


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(epochs: int = 2) -> Tiny:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(10, 3), torch.randn(10, 1))
    module = Tiny()
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, DataLoader(data, batch_size=4))
    return module


def test_watch_counts_steps_reads_logged_epochs_and_the_trainer_arguments():
    with gather.Watch() as watch:
        module = fit()
    assert watch.steps == 6  # 3 batches a epoch, 2 epochs
    assert list(watch.history) == ["train_loss"] and len(watch.history["train_loss"]) == 2  # _step values skipped
    assert watch.trainer_kwargs["max_epochs"] == {"value": 2, "default": None}
    assert watch.trainer_kwargs["logger"]["value"] is False
    result = gather.normalise({"model": module}, watch, "cpu")
    assert set(result["state_dict"]) == {"layer.weight", "layer.bias"} and result["device"] == "cpu"
    assert result["steps"] == 6 and result["history"] == watch.history


def test_watching_changes_nothing_the_program_computes():
    plain = fit().layer.weight.detach().clone()
    with gather.Watch():
        watched = fit().layer.weight.detach().clone()
    assert torch.equal(plain, watched)
    assert pl.Trainer.__init__.__name__ == "__init__"  # put back


def test_checkpoint_files_are_described_from_the_files(tmp_path):
    torch.save({"epoch": 3, "model": {"w": torch.zeros(2, 2)}}, tmp_path / "last.ckpt")
    found = gather.checkpoint_files(str(tmp_path))
    keys = found["last.ckpt"]["keys"]
    assert keys["epoch"]["value"] == 3 and keys["model"]["shapes"] == {"w": [2, 2]}
    assert keys["model"]["tensor_bytes"] == 16


def test_gather_fills_paths_from_the_run_arguments(tmp_path):
    (tmp_path / "ckpts").mkdir()
    (tmp_path / "ckpts" / "a.txt").write_text("x")
    arguments = gather.call_arguments(lambda ckpt_dir="ckpts", epochs=1: None, {"epochs": 3})
    assert arguments == {"ckpt_dir": "ckpts", "epochs": 3}
    found = gather.gather({"kept": {"reader": "file_names", "path": "{ckpt_dir}"}}, arguments, tmp_path)
    assert found == {"kept": ["a.txt"]}

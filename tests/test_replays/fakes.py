"""Small fake replays for the machinery's tests, written into a temporary ``snippets/replays``.

Each is a real program run by the real runner; what they observe is chosen so that every verdict
comes up: one reproduces on every release, one never does (its workaround works), one depends on
the Lightning release it runs on, one calls an API Lightning does not have (not applicable).
"""

from __future__ import annotations

from pathlib import Path

TOML = '''\
issue = {issue}
title = "{title}"
reported = "What the reporter saw."
explains = "Why it happens."
kind = "{kind}"
topic = "logging"

[upstream]
state = "closed"
outcome = "working as intended"
checked = "2026-12-07"

[reproduces]
say = "{say}"
a = "{a}"
b = {b}
tolerance = 1e-6
expect = "{expect}"
'''

WORKAROUND_CHECK = '''
[workaround]
say = "the weighted mean is the logged value"
a = "logged"
b = "mine"
tolerance = 1e-6
expect = "same"
'''

# the logged epoch value of a step-logged loss against the plain mean of the step values
LOGGED_MEAN = '''\
"""The logged epoch loss against my own mean of the step losses."""
import tempfile

import torch
import pytorch_lightning as pl
from torch.utils.data import DataLoader, TensorDataset


class Model(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.losses = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("loss", loss, on_step=False, on_epoch=True)
        self.losses.append((loss.item(), len(x)))
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def run() -> dict:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(10, 2), torch.randn(10, 1))
    model = Model()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=1, default_root_dir=root, logger=False, enable_progress_bar=False,
                             enable_model_summary=False, enable_checkpointing=False, accelerator="cpu")
        trainer.fit(model, DataLoader(data, batch_size=4))
    losses = model.losses
    {mine}
    return {{"logged": trainer.callback_metrics["loss"].item(), "mine": mine}}


if __name__ == "__main__":
    for key, value in run().items():
        print(key, value)
'''

PLAIN = "mine = sum(value for value, _ in losses) / len(losses)"
WEIGHTED = "mine = sum(value * n for value, n in losses) / sum(n for _, n in losses)"

RELEASE = '''\
import pytorch_lightning as pl


def run() -> dict:
    return {"minor": int(pl.__version__.split(".")[1])}
'''

ABSENT = '''\
import pytorch_lightning as pl


def run() -> dict:
    return {"value": pl.Trainer.no_such_method()}
'''

def write(root: Path, name: str, program: str, workaround: str | None = None, **toml) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "replay.py").write_text(program)
    text = TOML.format(**{"issue": 1, "title": name.replace("_", " "), "kind": "bug", "say": "it shows",
                          "a": "logged", "b": '"mine"', "expect": "differs", **toml})
    if workaround is not None:
        (folder / "workaround.py").write_text(workaround)
        text += WORKAROUND_CHECK
    (folder / "replay.toml").write_text(text)
    return folder


def make(root: Path, newest_minor: int) -> Path:
    """The fake replays under ``root``; ``release_fixed`` reproduces below Lightning 2.<newest_minor>."""
    write(root, "plain_mean_differs", LOGGED_MEAN.format(mine=PLAIN), issue=101,
          say="the logged epoch loss differs from the plain mean of the steps")
    write(root, "weighted_mean_differs", LOGGED_MEAN.format(mine=WEIGHTED), issue=102, kind="documented",
          say="the logged epoch loss differs from the weighted mean of the steps",
          workaround=LOGGED_MEAN.format(mine=WEIGHTED))
    write(root, "release_fixed", RELEASE, issue=103, a="minor", b=newest_minor, expect="less",
          say=f"the minor version is below {newest_minor}")
    write(root, "absent_api", ABSENT, issue=104, a="value", b=1, expect="identical", say="the value is 1")
    return root


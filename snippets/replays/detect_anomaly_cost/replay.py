"""Trainer(detect_anomaly=True) runs every training step under torch's anomaly mode.

Lightning issue #12115: a Lightning training run was much slower than the same model in plain
PyTorch; the largest part of the gap was `detect_anomaly` left on in the Trainer's configuration.
Anomaly mode records a Python stack trace in every node of the autograd graph during forward and
checks every gradient for NaN during backward. This program trains with detect_anomaly=True and
looks at what the training step's graph carries.
"""

import tempfile

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

DETECT_ANOMALY = True


def graph_nodes(loss: torch.Tensor) -> tuple[int, int]:
    """(nodes in the loss's autograd graph, nodes carrying an anomaly-mode stack trace)."""
    seen, stack = set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(child for child, _ in node.next_functions)
    return len(seen), sum("traceback_" in node.metadata for node in seen)


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
        self.seen = []  # per step: anomaly mode on, graph nodes, nodes with a stack trace

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.seen.append((torch.is_anomaly_enabled(), *graph_nodes(loss)))
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run() -> dict:
    pl.seed_everything(0)
    x = torch.randn(256, 8)
    train = DataLoader(TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=8)
    model = Net()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, detect_anomaly=DETECT_ANOMALY, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             default_root_dir=root)
        trainer.fit(model, train)
    return {
        "detect_anomaly": DETECT_ANOMALY,
        "training_steps": len(model.seen),
        "steps_in_anomaly_mode": sum(on for on, _, _ in model.seen),
        "graph_nodes_per_step": model.seen[-1][1],
        "graph_nodes_with_stack_trace_per_step": model.seen[-1][2],
        "anomaly_mode_outside_fit": torch.is_anomaly_enabled(),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")

"""evidence/running/trace.py and evidence/views/trace.py: calls recorded, ledger, alignment."""

from __future__ import annotations

from pathlib import Path

import torch

from evidence.running.trace import Recorder
from evidence.views.trace import aligned, first_epoch, label, rows

HERE = Path(__file__)


def train(lr: float = 0.1, epochs: int = 2, clip: bool = False, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    for _ in range(epochs):
        model.train()
        for i in range(0, 8, 4):
            loss = torch.nn.functional.mse_loss(model(x[i:i + 4]), y[i:i + 4])
            optimizer.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            model(x)
    return model


def test_calls_are_recorded_with_mode_grad_mode_and_caller():
    with Recorder(HERE) as recorder:
        train(clip=True)
    ops = [e["op"] for e in recorder.events]
    assert ops[:7] == ["train", "forward", "zero_grad", "backward", "clip_grad", "optimizer.step", "forward"]
    assert ops.count("optimizer.step") == 4 and ops.count("scheduler.step") == 2 and ops.count("eval") == 2
    val = [e for e in recorder.events if e["op"] == "forward" and e["mode"] == "eval"]
    assert len(val) == 2 and all(e["grad"] == "no_grad" for e in val)
    assert all(e["by"] == "train" and e["line"] for e in recorder.events)
    assert len(recorder.ledger) == 4 and recorder.names == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_recording_changes_nothing_and_removes_its_hooks():
    plain = train()
    with Recorder(HERE):
        recorded = train()
    again = train()
    for a, b, c in zip(plain.parameters(), recorded.parameters(), again.parameters()):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert torch.autograd.backward.__module__ == "torch.autograd"  # unwrapped again


def test_the_ledger_finds_the_first_step_where_runs_part():
    with Recorder(HERE, keep_snapshots=True) as reference:
        train()
    with Recorder(HERE, reference=reference) as same:
        train()
    assert same.first_divergence is None
    with Recorder(HERE, reference=reference) as other:
        train(lr=0.1, seed=0, clip=True)  # clipping changes the first step
    first = other.first_divergence
    assert first["step"] == 1 and first["tensor"] in reference.names and first["value"] > 0


def test_rows_fold_repeats_and_alignment_marks_what_differs():
    with Recorder(HERE) as plain:
        train(epochs=3)
    with Recorder(HERE) as clipped:
        train(epochs=3, clip=True)
    folded = rows(plain.events)
    assert folded[1][1] == 2  # forward, zero_grad, backward, step: twice per epoch
    lines = aligned({"pytorch": plain.events, "lightning": clipped.events})
    assert any(not line["same"] for line in lines)
    assert all(line["same"] for line in aligned({"pytorch": plain.events, "lightning": plain.events}))
    epoch = first_epoch(plain.events)
    assert [label(e) for e in epoch].count("optimizer.step()") == 2


def test_a_wrapped_model_is_recorded_in_the_mode_of_the_model_it_wraps():
    """Lightning's validation hooks switch the DDP wrapper to eval and restore only the LightningModule's
    mode: a forward through such a wrapper trains, and is recorded in train mode."""

    class Wrapper(torch.nn.Module):  # DDP keeps the wrapped model as .module, Fabric and Lightning as ._forward_module
        def __init__(self, module):
            super().__init__()
            self._forward_module = module

        def forward(self, x):
            return self._forward_module(x)

    inner = torch.nn.Linear(3, 1)
    outer = Wrapper(Wrapper(inner))
    outer.eval()
    inner.train()
    with Recorder(HERE) as recorder:
        outer(torch.ones(2, 3))
        inner.eval()
        outer(torch.ones(2, 3))
    assert [(e["module"], e["mode"]) for e in recorder.events if e["op"] == "forward"] == [("Wrapper", "train"),
                                                                                          ("Wrapper", "eval")]

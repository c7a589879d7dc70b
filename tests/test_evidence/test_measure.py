"""evidence/running/measure.py: parity, statistics, sanitising and memory."""

from __future__ import annotations

import math
import os

import pytest
import torch

from evidence.running import measure


def test_max_abs_difference_of_nested_results():
    a = {"w": torch.tensor([1.0, 2.0]), "history": {"loss": [0.5, 0.25]}}
    b = {"w": torch.tensor([1.0, 2.5]), "history": {"loss": [0.5, 0.25]}}
    assert measure.max_abs_difference(a, a) == 0.0
    assert measure.max_abs_difference(a, b) == 0.5


@pytest.mark.parametrize("a, b", [
    ({"w": torch.zeros(2)}, {"w": torch.zeros(3)}),
    ({"w": 1.0}, {"v": 1.0}),
    ([1.0, 2.0], [1.0]),
    ("cpu", "cuda"),
])
def test_results_that_cannot_be_compared_differ_infinitely(a, b):
    assert math.isinf(measure.max_abs_difference(a, b))


def test_integer_tensors_compare_exactly():
    assert measure.max_abs_difference(torch.tensor([1, 2]), torch.tensor([1, 3])) == 1.0
    assert measure.max_abs_difference(torch.tensor([1, 2]), torch.tensor([1, 2])) == 0.0


def test_verdicts():
    assert measure.verdict(0.0, 1e-6) == "identical"
    assert measure.verdict(1e-7, 1e-6) == "close"
    assert measure.verdict(1e-5, 1e-6) == "differs"
    assert measure.verdict(1e-9, 0.0) == "differs"


def test_summarize():
    stats = measure.summarize([3.0, 1.0, 2.0, 4.0, 5.0])
    assert stats["median_s"] == 3.0 and stats["min_s"] == 1.0 and stats["max_s"] == 5.0
    assert stats["q1_s"] == 2.0 and stats["q3_s"] == 4.0 and stats["runs"] == 5


def test_lookup_names_what_is_missing():
    assert measure.lookup({"a": {"b": 1}}, "a.b") == 1
    with pytest.raises(KeyError, match="missing 'c'"):
        measure.lookup({"a": {"b": 1}}, "a.c")


def test_sanitize_removes_machine_paths():
    home = os.path.expanduser("~")
    text = (f'File "/opt/venv/lib/python3.11/site-packages/torch/nn/x.py", line 3\n'
            f"/work/project/snippets/a/b.py:12\n{home}/data")
    clean = measure.sanitize(text, ["/work/project"])
    assert "<site-packages>/torch/nn/x.py" in clean
    assert "snippets/a/b.py:12" in clean and "/work/project" not in clean
    assert home not in clean or home == "/"


def test_sanitize_removes_the_host_name_from_file_names():
    import socket

    host = socket.gethostname()
    clean = measure.sanitize(f"wrote events.out.tfevents.1764400000.{host}.4242.0 (88 bytes)")
    assert clean == "wrote events.out.tfevents.1764400000.<host>.4242.0 (88 bytes)"


def test_peak_memory_sees_an_allocation():
    with measure.peak_memory("cpu") as memory:
        block = torch.ones(64 * 1024 * 1024 // 4)  # 64 MiB
        del block
    assert memory["bytes"] > 32 * 1024 * 1024
    assert memory["kind"] == "peak RSS growth"


def test_captured_output_gets_print_and_stderr():
    import sys

    with measure.captured_output() as out:
        print("to stdout")
        print("to stderr", file=sys.stderr)
    assert out.getvalue() == "to stdout\nto stderr\n"


def test_state_dicts_are_matched_by_name_without_the_holders_prefix_then_by_order():
    import torch

    plain = {"0.weight": torch.ones(2, 2), "0.bias": torch.zeros(2)}
    held = {"model.0.weight": torch.ones(2, 2), "model.0.bias": torch.zeros(2)}  # a LightningModule's self.model
    wrapped = {"_forward_module.0.weight": torch.ones(2, 2), "_forward_module.0.bias": torch.zeros(2)}
    renamed = {"layer.weight": torch.ones(2, 2), "layer.bias": torch.full((2,), 0.5)}
    assert measure.max_abs_difference(plain, held) == 0.0
    assert measure.max_abs_difference(plain, wrapped) == 0.0
    assert measure.max_abs_difference(plain, renamed) == 0.5  # by order and shape
    assert measure.max_abs_difference(plain, {"w": torch.ones(3)}) == float("inf")


def test_lookup_reads_bracketed_keys_and_list_indices():
    result = {"checkpoints": {"last.ckpt": {"epoch": 4}}, "history": {"val_loss": [3.0, 2.0, 1.0]}}
    assert measure.lookup(result, 'checkpoints["last.ckpt"].epoch') == 4
    assert measure.lookup(result, "history.val_loss.-1") == 1.0
    with pytest.raises(KeyError, match="missing 'nope'"):
        measure.lookup(result, "history.nope")

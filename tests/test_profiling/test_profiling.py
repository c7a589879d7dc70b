"""snippets/profiling: the profiles each program returns, and that profiling leaves the math alone."""

from __future__ import annotations

import pytest

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "profiling"
KINDS = ["pytorch", "lightning", "fabric"]
EPOCHS = 2
TRAIN_STEPS, VAL_STEPS = 4, 1  # 102 training points in batches of 32, 26 validation points


@pytest.fixture(scope="module")
def results():
    found = {kind: load_program(TOPIC, kind).run(epochs=EPOCHS, seed=0, device="cpu")
             for kind in ("pytorch", "fabric")}
    lightning = load_program(TOPIC, "lightning")
    found["lightning"] = lightning.run(epochs=EPOCHS, seed=0, device="cpu", profiler="pytorch")
    found["lightning-simple"] = lightning.run(epochs=EPOCHS, seed=0, device="cpu", profiler="simple")
    return found


def calls(result, name):
    return result["op_counts"][name]


@pytest.mark.parametrize("kind", ["lightning", "lightning-simple", "fabric"])
def test_profiling_does_not_change_the_weights(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


@pytest.mark.parametrize("kind", ["pytorch", "fabric", "lightning"])
def test_top_operators_are_returned_as_rows(results, kind):
    rows = results[kind]["top_ops"]
    assert 5 <= len(rows) <= 12
    for name, count, ms in rows:
        assert name.startswith("aten::") and isinstance(count, int) and count > 0 and ms >= 0
    assert [ms for _, _, ms in rows] == sorted((ms for _, _, ms in rows), reverse=True)
    assert {"aten::addmm", "aten::select"} & {name for name, _, _ in rows}


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_operator_counts_match_what_the_loop_did(results, kind):
    # one aten::addmm per Linear layer and forward pass: two layers, training and validation
    # batches; aten::select twice per sample collated (inputs and labels), every epoch
    result = results[kind]
    forward_passes = EPOCHS * (TRAIN_STEPS + VAL_STEPS)
    assert calls(result, "aten::addmm") == 2 * forward_passes
    assert {name: count for name, count, _ in result["top_ops"]}.items() <= result["op_counts"].items()
    assert calls(result, "aten::select") == EPOCHS * 2 * 128
    sections = {name: count for name, count, _ in result["sections"]}
    assert sections == {"train_epoch": EPOCHS, "training_step": EPOCHS * TRAIN_STEPS,
                        "backward": EPOCHS * TRAIN_STEPS, "optimizer_step": EPOCHS * TRAIN_STEPS,
                        "validation": EPOCHS}


def test_lightning_pytorch_profiler_misses_the_first_training_step(results):
    """The pitfall on the page: recording starts after the first training_step has finished."""
    lightning, plain = results["lightning"], results["pytorch"]
    hooks = {name: count for name, count, _ in lightning["hooks"]}
    assert hooks["run_training_batch"] == EPOCHS * TRAIN_STEPS - 1
    assert hooks.get("run_training_epoch", 0) == EPOCHS - 1
    # the first batch's collation (two selects per sample) and forward pass (one addmm per layer)
    assert calls(lightning, "aten::select") == calls(plain, "aten::select") - 2 * 32
    assert calls(lightning, "aten::addmm") == calls(plain, "aten::addmm") - 2


def test_lightning_hook_tables_name_the_hooks(results):
    pytorch_hooks = [name for name, _, _ in results["lightning"]["hooks"]]
    simple_hooks = {name: count for name, count, _ in results["lightning-simple"]["hooks"]}
    assert any(name.endswith("training_step") for name in pytorch_hooks)
    assert simple_hooks["run_training_epoch"] == EPOCHS
    assert simple_hooks["run_training_batch"] == EPOCHS * TRAIN_STEPS
    assert any(name.startswith("[LightningModule]Classifier.") for name in simple_hooks)
    assert results["lightning-simple"]["top_ops"] == [] and results["lightning-simple"]["op_counts"] == {}


def test_lightning_reports_go_to_files_not_stdout(capsys):
    program = load_program(TOPIC, "lightning")
    result = program.run(epochs=1, seed=0, device="cpu", profiler="simple")
    out = capsys.readouterr().out
    assert "Profiler Report" not in out and "Action" not in out
    assert result["report_files"] == ["fit-simple.txt"]


def test_unknown_lightning_profiler_is_a_clear_error(capsys):
    assert load_program(TOPIC, "lightning").main(["--profiler", "advanced"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown profiler 'advanced': use simple or pytorch"

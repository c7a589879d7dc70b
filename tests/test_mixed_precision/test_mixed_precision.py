"""snippets/mixed_precision: bf16 autocast three ways, parity, closeness to float32, fp16 on CUDA."""

from __future__ import annotations

import contextlib

import pytest
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import exit_code, load_program, run_program

TOPIC = "mixed_precision"
KINDS = ["pytorch", "lightning", "fabric"]
BF16_VS_FP32_TOLERANCE = 5e-3  # the bf16_near_fp32 check of runs.toml
HISTORY_TOLERANCE = 1e-6  # Lightning averages logged losses itself (float32)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 with GradScaler needs a CUDA GPU")


@contextlib.contextmanager
def linear_output_dtypes():
    """The dtypes every nn.Linear produced while the block ran (a global forward hook)."""
    seen = set()

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Linear):
            seen.add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def _run(kind, precision, device="cpu"):
    with linear_output_dtypes() as dtypes:
        result = run_program(TOPIC, kind, epochs=2, seed=0, device=device, precision=precision)
    return {**result, "linear_dtypes": dtypes}


@pytest.fixture(scope="module")
def results():
    return {(kind, precision): _run(kind, precision) for kind in KINDS for precision in ("bf16-mixed", "32-true")}


@pytest.mark.parametrize("kind", KINDS)
def test_bf16_autocast_computes_layers_in_bf16_and_keeps_fp32_weights(results, kind):
    bf16, fp32 = results[kind, "bf16-mixed"], results[kind, "32-true"]
    assert bf16["linear_dtypes"] == {torch.bfloat16}
    assert fp32["linear_dtypes"] == {torch.float32}
    assert all(t.dtype == torch.float32 for t in bf16["state_dict"].values())
    assert bf16["steps"] == 2 * 26 and bf16["device"] == "cpu"
    assert bf16["history"]["val_loss"][-1] < bf16["history"]["val_loss"][0]


@pytest.mark.parametrize("precision", ["bf16-mixed", "32-true"])
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_identical_to_plain_pytorch(results, kind, precision):
    assert max_abs_difference(results[kind, precision]["state_dict"],
                              results["pytorch", precision]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind, precision]["history"],
                              results["pytorch", precision]["history"]) <= HISTORY_TOLERANCE


@pytest.mark.parametrize("kind", KINDS)
def test_bf16_losses_close_to_fp32_but_not_equal(results, kind):
    diff = max_abs_difference(results[kind, "bf16-mixed"]["history"], results[kind, "32-true"]["history"])
    assert 0 < diff <= BF16_VS_FP32_TOLERANCE
    assert max_abs_difference(results[kind, "bf16-mixed"]["state_dict"], results[kind, "32-true"]["state_dict"]) > 0


@needs_cuda
@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_cuda_mixed_precision_parity(precision):
    runs = {kind: _run(kind, precision, device="cuda") for kind in KINDS}
    fp32 = _run("pytorch", "32-true", device="cuda")
    dtype = torch.float16 if precision == "16-mixed" else torch.bfloat16
    for kind in KINDS:
        assert runs[kind]["linear_dtypes"] == {dtype}
        assert max_abs_difference(runs[kind]["history"], fp32["history"]) <= BF16_VS_FP32_TOLERANCE
    for kind in ("lightning", "fabric"):
        assert max_abs_difference(runs[kind]["state_dict"], runs["pytorch"]["state_dict"]) <= 1e-5
        assert max_abs_difference(runs[kind]["history"], runs["pytorch"]["history"]) <= 1e-4


@pytest.mark.parametrize("kind", KINDS)
def test_fp16_on_the_cpu_is_refused_with_one_line(kind, capsys):
    """The page's intro: on the CPU every program refuses --precision 16-mixed with exit code 2 and one
    line on stderr, before training."""
    assert exit_code(load_program(TOPIC, kind).main, ["--precision", "16-mixed", "--device", "cpu", "--epochs", "1"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "16-mixed" in lines[0], captured.err
    assert "epoch" not in captured.out.lower()


def test_lightning_and_fabric_alone_fall_back_to_bf16_on_the_cpu():
    """The page's pitfall: without the programs' check, Trainer and Fabric warn and use bf16-mixed."""
    import pytorch_lightning as pl
    from lightning_fabric import Fabric

    with pytest.warns(UserWarning, match="AMP with fp16 is not supported on CPU. Using `precision='bf16-mixed'`"):
        trainer = pl.Trainer(accelerator="cpu", devices=1, precision="16-mixed", logger=False)
    assert trainer.precision_plugin.precision == "bf16-mixed"
    with pytest.warns(UserWarning, match="AMP with fp16 is not supported on CPU. Using `precision='bf16-mixed'`"):
        fabric = Fabric(accelerator="cpu", devices=1, precision="16-mixed")
    assert fabric.strategy.precision.precision == "bf16-mixed"

"""snippets/torch_compile: compiled against eager in each program, parity across programs, fallback, CLI."""

from __future__ import annotations

import pytest
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "torch_compile"
KINDS = ["pytorch", "lightning", "fabric"]
TOLERANCE = 1e-6  # the page's tolerance for compiled against eager


@pytest.fixture(scope="module")
def results():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the page: step times on a busy 2-core machine stay meaningful
    try:
        return {kind: load_program(TOPIC, kind).run(epochs=1, seed=0, device="cpu") for kind in KINDS}
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", KINDS)
def test_compiled_run_is_close_to_eager(results, kind):
    result = results[kind]
    assert result["compiled"] is True, result["compile_note"]
    difference = max_abs_difference(result["state_dict"], result["eager_state_dict"])
    assert difference <= TOLERANCE
    assert result["compiled_vs_eager"] == pytest.approx(difference)
    assert max_abs_difference(result["history"], result["eager_history"]) <= TOLERANCE
    assert result["steps"] == 2 * 13  # one eager and one compiled epoch of 13 batches


@pytest.mark.parametrize("kind", KINDS)
def test_first_compiled_step_carries_the_compilation(results, kind):
    timing = results[kind]["step_timing"]
    for mode in ("eager", "compiled"):
        assert 0 < timing[mode]["median_step_s"] and 0 < timing[mode]["first_step_s"]
    # tracing and building the kernels happens in the first compiled step, not in the later ones
    assert timing["compiled"]["first_step_s"] > 3 * timing["compiled"]["median_step_s"]
    assert results[kind]["speedup"] == pytest.approx(
        timing["eager"]["median_step_s"] / timing["compiled"]["median_step_s"])


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_identical_to_plain_pytorch_eager_and_compiled(results, kind):
    for key in ("state_dict", "eager_state_dict"):
        assert max_abs_difference(results[kind][key], results["pytorch"][key]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= TOLERANCE


def test_the_check_sees_a_real_difference(results):
    # a compiled model that was trained on other data must not pass as "close to eager"
    other = load_program(TOPIC, "pytorch").run(epochs=1, seed=1, device="cpu", compile=False)
    assert max_abs_difference(other["state_dict"], results["pytorch"]["eager_state_dict"]) > TOLERANCE


@pytest.mark.parametrize("kind", KINDS)
def test_falls_back_to_eager_with_one_line_when_compile_fails(kind, monkeypatch, capsys):
    module = load_program(TOPIC, kind)

    def broken_compile(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nsecond line of detail")

    monkeypatch.setattr(module.torch, "compile", broken_compile)
    result = module.run(epochs=1, seed=0, device="cpu", verbose=True)
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert notes == ["note: torch.compile not used (RuntimeError: no C++ compiler found); running eager only"]
    assert result["compiled"] is False and "no C++ compiler" in result["compile_note"]
    assert "compiled  epoch" not in out
    assert max_abs_difference(result["state_dict"], result["eager_state_dict"]) == 0.0

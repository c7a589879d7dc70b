"""snippets/torch_compile: compiled against eager in each program, parity across programs, fallback, CLI."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import torch
import torch._dynamo.utils

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "torch_compile"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params  # the headline run's configuration, as the page shows it
TOLERANCE = declared.run(TOPIC).tolerance  # the page's tolerance for compiled against eager
BATCHES = 13  # 409 training rows: 12 batches of 32 and one of 25
CHECK_GRAPHS = 1  # the programs' one-line compile check


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the page: step times on a busy 2-core machine stay meaningful
    yield
    torch.set_num_threads(threads)


def graphs_compiled(function, *args, **kwargs):
    """Call ``function`` and count the graphs Dynamo compiled meanwhile."""
    torch._dynamo.utils.counters.clear()
    function(*args, **kwargs)
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


@pytest.fixture(scope="module")
def results():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        found = {}
        for kind in KINDS:
            torch._dynamo.utils.counters.clear()
            found[kind] = load_program(TOPIC, kind).run(**PUBLISHED, device="cpu")
            found[kind]["graphs"] = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        return found
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
    assert result["steps"] == 2 * PUBLISHED["epochs"] * BATCHES  # eager and compiled


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


@pytest.mark.parametrize("kind", KINDS)
def test_three_graphs_per_compiled_training(results, kind):
    """The page: full training batch, short last batch (dynamic from then on), validation."""
    assert results[kind]["graphs"] == CHECK_GRAPHS + 3


def test_drop_last_on_the_training_loader_keeps_three_graphs(monkeypatch, one_thread):
    """The page: the validation loader's short last batch then causes the dynamic recompile."""
    program = load_program(TOPIC, "pytorch")
    loader = program.DataLoader

    def drop_last_when_shuffling(dataset, **kwargs):
        return loader(dataset, drop_last=kwargs.get("shuffle", False), **kwargs)

    monkeypatch.setattr(program, "DataLoader", drop_last_when_shuffling)
    torch.compiler.reset()
    assert graphs_compiled(program.train, "compiled", 1, 0, torch.device("cpu"), 32, 1e-3, False) == 3


def test_the_sanity_check_would_compile_one_graph_more(monkeypatch, one_thread):
    """Why the Lightning program sets num_sanity_val_steps=0 (the page's note on defaults)."""
    program = load_program(TOPIC, "lightning")
    trainer = program.pl.Trainer

    def with_sanity_check(*args, **kwargs):
        kwargs.pop("num_sanity_val_steps")
        return trainer(*args, **kwargs)

    monkeypatch.setattr(program.pl, "Trainer", with_sanity_check)
    torch.compiler.reset()
    assert graphs_compiled(program.train, "compiled", 1, 0, "cpu", 32, 1e-3, False) == 4


def test_module_compile_on_a_bare_sequential_compiles_nothing(one_thread):
    """The page's note on nn.Module.compile(), with the pinned torch."""
    program = load_program(TOPIC, "pytorch")
    model = program.build_model()
    model.compile()
    torch.compiler.reset()
    torch._dynamo.utils.counters.clear()
    model(torch.randn(32, 10)).sum().backward()
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 0
    assert list(model.state_dict())[0] == "0.weight"
    compiled = torch.compile(program.build_model())
    assert graphs_compiled(lambda: compiled(torch.randn(32, 10)).sum().backward()) == 1
    torch.compiler.reset()


def test_lightning_checkpoint_keys_gain_orig_mod():
    program = load_program(TOPIC, "lightning")
    module = program.Classifier(lr=1e-3, compiled=True, mode="compiled", verbose=False)
    module.configure_model()
    assert "model._orig_mod.0.weight" in module.state_dict()


def test_the_documented_recipe_fails_with_the_pinned_versions(one_thread):
    """The page's warning: trainer.fit(torch.compile(lit_module)) breaks at self.log (Lightning #21836)."""
    program = load_program(TOPIC, "lightning")
    train_set, val_set = program.make_data(0)
    module = program.Classifier(lr=1e-3, compiled=False, mode="compiled", verbose=False)
    trainer = program.pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False,
                                 enable_checkpointing=False, enable_progress_bar=False,
                                 enable_model_summary=False, num_sanity_val_steps=0)
    torch.compiler.reset()
    try:
        with pytest.raises(torch._dynamo.exc.InternalTorchDynamoError, match="'method' object has no attribute"):
            trainer.fit(torch.compile(module), program.DataLoader(train_set, batch_size=32),
                        program.DataLoader(val_set, batch_size=32))
    finally:
        torch.compiler.reset()


def test_the_page_calls_only_views_that_exist():
    page = Path(__file__).resolve().parents[2] / "gallery/topics/17_torch_compile" / "plot_torch_compile.py"
    views = importlib.import_module("evidence.views.topics.torch_compile")
    called = set(re.findall(r"\bviews\.(\w+)\(", page.read_text()))
    assert called and all(hasattr(views, name) for name in called), called

"""snippets/torch_compile: compiled against eager, parity across programs, graph counts, the pitfalls."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo.utils

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "torch_compile"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params  # the headline (compiled) run's configuration, as the page shows it
TOLERANCE = declared.run(TOPIC).tolerance  # the page's tolerance for compiled against eager
BATCHES = 13  # 409 training rows: 12 batches of 32 and one of 25


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
            for compile in (True, False):
                torch._dynamo.utils.counters.clear()
                found[kind, compile] = run_program(TOPIC, kind, **{**PUBLISHED, "compile": compile}, device="cpu")
                found[kind, compile]["graphs"] = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        return found
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", KINDS)
def test_compiled_run_is_close_to_eager(results, kind):
    compiled, eager = results[kind, True], results[kind, False]
    assert max_abs_difference(compiled["state_dict"], eager["state_dict"]) <= TOLERANCE
    assert max_abs_difference(compiled["history"], eager["history"]) <= TOLERANCE
    assert compiled["steps"] == eager["steps"] == PUBLISHED["epochs"] * BATCHES


@pytest.mark.parametrize("kind", KINDS)
def test_first_compiled_step_carries_the_compilation(results, kind):
    compiled, eager = results[kind, True], results[kind, False]
    assert 0 < compiled["median_step_s"] and 0 < eager["median_step_s"]
    # tracing and building the kernels happens in the first compiled step, not in the later ones
    assert compiled["first_step_s"] > 3 * compiled["median_step_s"]
    assert compiled["first_step_s"] > eager["first_step_s"]


@pytest.mark.parametrize("compile", [True, False])
@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_weights_identical_to_plain_pytorch_eager_and_compiled(results, kind, compile):
    assert max_abs_difference(results[kind, compile]["state_dict"], results["pytorch", compile]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind, compile]["history"], results["pytorch", compile]["history"]) <= TOLERANCE


def test_the_check_sees_a_real_difference(results):
    # a model trained on other data must not pass as "close to eager"
    other = run_program(TOPIC, "pytorch", epochs=1, seed=1, device="cpu", compile=False)
    assert max_abs_difference(other["state_dict"], results["pytorch", False]["state_dict"]) > TOLERANCE


@pytest.mark.parametrize("kind", KINDS)
def test_three_graphs_per_compiled_training_and_none_without(results, kind):
    """The page: full training batch, short last batch (dynamic from then on), validation."""
    assert results[kind, True]["graphs"] == 3
    assert results[kind, False]["graphs"] == 0


def test_every_run_compiles_afresh(results, one_thread):
    """run() resets Dynamo: a second compiled run in the same process compiles its graphs again."""
    assert graphs_compiled(run_program, TOPIC, "pytorch", **PUBLISHED, device="cpu") == 3


def test_drop_last_on_the_training_loader_keeps_three_graphs(monkeypatch, one_thread):
    """The page: the validation loader's short last batch then causes the dynamic recompile."""
    program = load_program(TOPIC, "pytorch")
    loader = program.DataLoader

    def drop_last_when_shuffling(dataset, **kwargs):
        return loader(dataset, drop_last=kwargs.get("shuffle", False), **kwargs)

    monkeypatch.setattr(program, "DataLoader", drop_last_when_shuffling)
    assert graphs_compiled(program.run, epochs=1, seed=0, device="cpu") == 3


def test_the_sanity_check_would_compile_one_graph_more(monkeypatch, one_thread):
    """Why the Lightning program sets num_sanity_val_steps=0 (the page's pitfall and [defaults])."""
    program = load_program(TOPIC, "lightning")
    trainer = program.pl.Trainer

    def with_sanity_check(*args, **kwargs):
        kwargs.pop("num_sanity_val_steps")
        return trainer(*args, **kwargs)

    monkeypatch.setattr(program.pl, "Trainer", with_sanity_check)
    assert graphs_compiled(program.run, epochs=1, seed=0, device="cpu") == 4


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
    module = load_program(TOPIC, "lightning").Classifier(lr=1e-3, compile=True)
    module.configure_model()
    assert "model._orig_mod.0.weight" in module.state_dict()


def test_the_documented_recipe_fails_with_the_pinned_versions(one_thread):
    """The page's warning: trainer.fit(torch.compile(lit_module)) breaks at self.log (Lightning #21836)."""
    program = load_program(TOPIC, "lightning")
    train_set, val_set = program.make_data(0)
    module = program.Classifier(lr=1e-3, compile=False)
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

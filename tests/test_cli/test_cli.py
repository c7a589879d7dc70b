"""snippets/cli: the same run in all three styles, its saved settings, a rerun from them, and the command-line pitfalls the page states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program, run_program

TOPIC = "cli"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
SAVED = {"pytorch": "config.json", "lightning": "config.yaml", "fabric": "config.json"}
QUIET = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False, "enable_model_summary": False}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as the build's worker runs the programs (on two cores, more threads only contend)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def results(folder):
    return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu", out_dir=str(folder / kind)) for kind in KINDS}


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_weights_as_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6
    assert results[kind]["steps"] == PUBLISHED["epochs"] * 13


@pytest.mark.parametrize("kind", KINDS)
def test_each_run_saves_the_settings_it_used(results, kind):
    values = results[kind]["saved"][SAVED[kind]]["values"]
    if kind == "lightning":
        assert (values["epochs"], values["seed_everything"], values["model"]["lr"]) == (3, 0, PUBLISHED["lr"])
        assert "max_epochs" not in values["trainer"] and "seed" not in values["data"]  # linked: saved at the source
        assert values["trainer"]["default_root_dir"].endswith("lightning")
    else:
        assert values == {"epochs": 3, "seed": 0, "device": "cpu", "batch_size": 32, "lr": PUBLISHED["lr"], "hidden": 16}


@pytest.mark.parametrize("kind", KINDS)
def test_the_saved_config_reproduces_the_run(results, folder, kind, tmp_path, monkeypatch):
    """`python <program> --config <the saved file>`, through the program's own parser."""
    monkeypatch.chdir(tmp_path)
    program = load_program(TOPIC, kind)
    saved = str(folder / kind / SAVED[kind])
    if kind == "lightning":
        model = program.cli_main(["--config", saved, "--trainer.default_root_dir", str(tmp_path)], verbose=False).model
    else:
        options = {k: v for k, v in vars(program.parse_args(["--config", saved])).items()
                   if k not in ("config", "print_config")}
        model = program.run(**{**options, "out_dir": str(tmp_path)})["model"]
    assert max_abs_difference(model.state_dict(), results[kind]["state_dict"]) == 0.0


def test_another_learning_rate_gives_other_weights(results, tmp_path):
    """The reproduction check can fail: a run with another learning rate ends elsewhere."""
    other = run_program(TOPIC, "pytorch", **{**PUBLISHED, "lr": 0.02}, device="cpu", out_dir=str(tmp_path))
    assert max_abs_difference(other["state_dict"], results["pytorch"]["state_dict"]) > 0


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_print_config_shows_the_override(kind, tmp_path, capsys):
    (tmp_path / "my.json").write_text('{"lr": 0.001, "epochs": 2}')
    assert load_program(TOPIC, kind).main(["--config", str(tmp_path / "my.json"), "--lr", "0.01",
                                           "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["lr"], printed["epochs"]) == (0.01, 2)


def _program_cli(args: list[str], **kwargs):
    program = load_program(TOPIC, "lightning")
    return program.CLI(program.Classifier, program.DataModule, args=args, run=False, trainer_defaults=QUIET,
                       seed_everything_default=0, **kwargs)


def _plain_cli(args: list[str], **kwargs):
    """LightningCLI as its docs write it (subcommands, nothing linked), with the program's classes."""
    from pytorch_lightning.cli import LightningCLI

    program = load_program(TOPIC, "lightning")
    return LightningCLI(program.Classifier, program.DataModule, args=args, trainer_defaults=kwargs.pop("defaults", QUIET),
                        **kwargs)


def test_order_matters_for_lightningcli_not_for_the_plain_parser(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  lr: 0.001\n")
    after = _program_cli(["--config", str(tmp_path / "c.yaml"), "--model.lr", "0.01"])
    before = _program_cli(["--model.lr", "0.01", "--config", str(tmp_path / "c.yaml")])
    assert after.model.hparams.lr == 0.01 and before.model.hparams.lr == 0.001
    (tmp_path / "c.json").write_text('{"lr": 0.001}')
    plain = load_program(TOPIC, "pytorch")
    assert plain.parse_args(["--lr", "0.01", "--config", str(tmp_path / "c.json")]).lr == 0.01
    assert plain.parse_args(["--config", str(tmp_path / "c.json"), "--lr", "0.01"]).lr == 0.01


@pytest.mark.parametrize("args, message", [
    (["--model.hidden", "abc"], "model.hidden"),
    (["--model.lr", "-1"], "model.lr"),
    (["--data.seed", "5"], 'Linked "data.seed" must be given via "seed_everything"'),
    (["--trainer.max_epochs", "2"], "trainer.max_epochs"),
])
def test_lightning_refuses_bad_types_and_linked_targets(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_program(TOPIC, "lightning").main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_without_the_link_a_negative_max_epochs_is_accepted():
    assert _plain_cli(["--trainer.max_epochs", "-1"], run=False).trainer.max_epochs == -1
    with pytest.raises(ValueError, match="--lr positive"):
        load_program(TOPIC, "pytorch").run(epochs=1, lr=-1)


def test_a_second_run_in_the_same_folder_stops_without_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]
    _plain_cli(args, seed_everything_default=0)
    assert (tmp_path / "config.yaml").is_file()
    with pytest.raises(RuntimeError, match="SaveConfigCallback expected .*config.yaml to NOT exist"):
        _plain_cli(args, seed_everything_default=0)
    _plain_cli(args, seed_everything_default=0, save_config_kwargs={"overwrite": True})


def test_default_seed_prints_true_and_saves_the_number(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    args = ["fit", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]
    with pytest.raises(SystemExit):
        _plain_cli(args + ["--print_config"])
    assert "seed_everything: true" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="No seed found, seed set to 0"):
        _plain_cli(args)
    assert "seed_everything: 0\n" in (tmp_path / "config.yaml").read_text()
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    assert _plain_cli(args, save_config_kwargs={"overwrite": True}).config["fit"]["seed_everything"] == 7


def test_callbacks_in_trainer_defaults_are_not_in_the_saved_config(tmp_path, monkeypatch):
    import pytorch_lightning as pl

    class Counter(pl.Callback):
        epochs = 0

        def on_train_epoch_end(self, trainer, pl_module):
            Counter.epochs += 1

    monkeypatch.chdir(tmp_path)
    args = ["fit", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]
    _plain_cli(args, seed_everything_default=0, defaults={**QUIET, "callbacks": [Counter()]})
    assert Counter.epochs == 1
    assert "  callbacks: null\n" in (tmp_path / "config.yaml").read_text()


def test_the_common_options_are_lightningcli_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_program(TOPIC, "lightning").main(["--epochs", "1", "--seed_everything", "3", "--device", "cpu"]) == 0
    saved = (tmp_path / "config.yaml").read_text()
    assert "seed_everything: 3\n" in saved and "\nepochs: 1\n" in saved and "\ndevice: cpu\n" in saved

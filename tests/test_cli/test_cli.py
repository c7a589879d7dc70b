"""snippets/cli: the same run from the same config, in all three styles, and the command-line pitfalls the page states."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "cli"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""


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
    return {kind: load_program(TOPIC, kind).run(**PUBLISHED, device="cpu", out_dir=str(folder / kind))
            for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_the_resolved_config_reproduces_the_run(results, kind):
    result = results[kind]
    assert result["reproduced_difference"] == 0.0
    assert result["resolved"] == {"epochs": PUBLISHED["epochs"], "seed": PUBLISHED["seed"], "lr": PUBLISHED["lr"],
                                  "hidden": 16, "batch_size": 32}  # the override beat the file's 0.001
    assert len(result["history"]["val_loss"]) == PUBLISHED["epochs"]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_weights_as_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


def test_a_different_value_gives_different_weights(results, folder):
    """The reproduction check can fail: a run with another learning rate ends elsewhere."""
    other = load_program(TOPIC, "pytorch").run(**{**PUBLISHED, "lr": 0.02}, device="cpu", out_dir=str(folder / "x"))
    assert max_abs_difference(other["state_dict"], results["pytorch"]["state_dict"]) > 0


def test_lightning_saves_what_it_prints_and_leaves_persistent_callbacks_out(results, folder):
    result = results["lightning"]
    assert result["config_printed"] == result["config_saved"] == (folder / "lightning" / "config.yaml").read_text()
    assert result["config_saved"].startswith("# pytorch_lightning==")
    assert "  callbacks: null" in result["config_saved"]  # the History callback ran, and is not in the config
    assert json.loads(results["pytorch"]["config_printed"])["lr"] == PUBLISHED["lr"]


def _lightning_cli(args: list[str], **kwargs):
    from pytorch_lightning.cli import LightningCLI

    program = load_program(TOPIC, "lightning")
    defaults = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False,
                "enable_model_summary": False}
    old = sys.argv
    sys.argv = ["lightning_cli.py", *args]
    try:
        return LightningCLI(program.Classifier, program.DataModule, trainer_defaults=defaults, **kwargs)
    finally:
        sys.argv = old


def test_order_matters_for_lightningcli_not_for_the_plain_parser(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  lr: 0.001\n")
    after = _lightning_cli(["--config", str(tmp_path / "c.yaml"), "--model.lr", "0.01"], run=False,
                           seed_everything_default=0)
    before = _lightning_cli(["--model.lr", "0.01", "--config", str(tmp_path / "c.yaml")], run=False,
                            seed_everything_default=0)
    assert after.model.hparams.lr == 0.01 and before.model.hparams.lr == 0.001
    (tmp_path / "c.json").write_text('{"lr": 0.001}')
    plain = load_program(TOPIC, "pytorch")
    assert plain.parse_args(["--lr", "0.01", "--config", str(tmp_path / "c.json")]).lr == 0.01
    assert plain.parse_args(["--config", str(tmp_path / "c.json"), "--lr", "0.01"]).lr == 0.01


def test_types_are_checked_ranges_only_where_the_type_says(capsys):
    with pytest.raises(SystemExit) as exit_:
        _lightning_cli(["--model.hidden", "abc"], run=False, seed_everything_default=0)
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        _lightning_cli(["--model.lr", "-1"], run=False, seed_everything_default=0)
    assert exit_.value.code == 2
    assert "model.lr" in capsys.readouterr().err
    unlimited = _lightning_cli(["--trainer.max_epochs", "-1"], run=False, seed_everything_default=0)
    assert unlimited.trainer.max_epochs == -1
    with pytest.raises(ValueError, match="--lr positive"):
        load_program(TOPIC, "pytorch").parse_args(["--lr", "-1"])


def test_a_second_run_in_the_same_folder_stops_without_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]
    _lightning_cli(args, seed_everything_default=0)
    assert (tmp_path / "config.yaml").is_file()
    with pytest.raises(RuntimeError, match="SaveConfigCallback expected .*config.yaml to NOT exist"):
        _lightning_cli(args, seed_everything_default=0)
    _lightning_cli(args, seed_everything_default=0, save_config_kwargs={"overwrite": True})


def test_default_seed_prints_true_and_saves_the_number(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    args = ["fit", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"]
    with pytest.raises(SystemExit):
        _lightning_cli(args + ["--print_config"])
    assert "seed_everything: true" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="No seed found, seed set to 0"):
        _lightning_cli(args)
    assert "seed_everything: 0\n" in (tmp_path / "config.yaml").read_text()
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    assert _lightning_cli(args, save_config_kwargs={"overwrite": True}).config["fit"]["seed_everything"] == 7


def test_the_front_turns_the_common_options_into_lightningcli_arguments(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert load_program(TOPIC, "lightning").main(["--epochs", "1", "--seed", "3", "--device", "cpu"]) == 0
    saved = (tmp_path / "config.yaml").read_text()
    assert "seed_everything: 3\n" in saved and "  max_epochs: 1\n" in saved and "  accelerator: cpu\n" in saved
    assert "  seed: 3\n" in saved
    assert "done: 13 optimizer steps" in capsys.readouterr().out

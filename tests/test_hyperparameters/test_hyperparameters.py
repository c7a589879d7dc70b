"""snippets/hyperparameters: the saved hyperparameters, the rebuilt model and its predictions, the CLI."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from evidence.running.measure import max_abs_difference
from tests.conftest import exit_code, load_program, run_program

TOPIC = "hyperparameters"
KINDS = ["pytorch", "lightning", "fabric"]
FILES = {"pytorch": "torch_model.pt", "lightning": "lightning_model.ckpt", "fabric": "fabric_model.ckpt"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="module")
def results(folder):
    return {kind: run_program(TOPIC, kind, epochs=2, seed=0, device="cpu", hidden=24, lr=2e-3,
                              ckpt_dir=str(folder / kind / "nested")) for kind in KINDS}


def predict(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("kind", KINDS)
def test_checkpoint_holds_the_hyperparameters_it_was_trained_with(results, folder, kind):
    assert results[kind]["hparams"] == {"hidden": 24, "lr": 2e-3}
    # read back independently of the program
    raw = torch.load(folder / kind / "nested" / FILES[kind], map_location="cpu", weights_only=True)
    assert raw["hyper_parameters" if kind == "lightning" else "config"] == {"hidden": 24, "lr": 2e-3}


@pytest.mark.parametrize("kind", KINDS)
def test_rebuilt_model_has_the_saved_width_and_validates_the_same(results, kind):
    result = results[kind]
    weights = {k.removeprefix("model."): v for k, v in result["state_dict"].items()}
    assert weights["0.weight"].shape == (24, 10)  # rebuilt at the saved width, not the default 16
    assert result["reloaded_val_loss"] == result["history"]["val_loss"][-1]


@pytest.mark.parametrize("kind", KINDS)
def test_reloaded_model_predicts_bitwise_what_the_saved_weights_do(results, folder, kind):
    """The rebuilt model (returned) computes exactly what a model holding the saved weights computes."""
    program = load_program(TOPIC, kind)
    raw = torch.load(folder / kind / "nested" / FILES[kind], map_location="cpu", weights_only=True)
    saved = {"pytorch": lambda: raw["state_dict"], "fabric": lambda: raw["model"],
             "lightning": lambda: {k.removeprefix("model."): v for k, v in raw["state_dict"].items()}}[kind]()
    reference = program.build_model(24)
    reference.load_state_dict(saved)
    rebuilt = program.build_model(24)
    rebuilt.load_state_dict({k.removeprefix("model."): v for k, v in results[kind]["state_dict"].items()})
    x = program.make_data(0)[1].tensors[0]
    assert torch.equal(predict(rebuilt, x), predict(reference, x))


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_weights_and_hyperparameters_as_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6
    assert results[kind]["hparams"] == results["pytorch"]["hparams"]


def test_declared_gather_reads_each_checkpoint(tmp_path, monkeypatch):
    """The page's table: the harness reads the file each program wrote in its own folder."""
    monkeypatch.chdir(tmp_path)
    result = run_program(TOPIC, "fabric", epochs=1, seed=0, device="cpu", hidden=24, ckpt_dir="checkpoints/fabric")
    (name, entry), = result["checkpoint"].items()
    assert name == FILES["fabric"] and set(entry["keys"]) == {"config", "model", "optimizer"}
    assert entry["file_bytes"] == (tmp_path / "checkpoints/fabric" / name).stat().st_size


def test_rebuilding_without_the_saved_config_fails(folder, results):
    # the claim behind saving the config: the default architecture cannot take these weights
    module = load_program(TOPIC, "pytorch")
    checkpoint = torch.load(folder / "pytorch" / "nested" / FILES["pytorch"], weights_only=True)
    with pytest.raises(RuntimeError, match="size mismatch"):
        module.build_model().load_state_dict(checkpoint["state_dict"])


def test_lightning_rebuilds_from_the_checkpoint_alone(folder, results):
    module = load_program(TOPIC, "lightning")
    restored = module.Classifier.load_from_checkpoint(folder / "lightning" / "nested" / FILES["lightning"])
    assert dict(restored.hparams) == {"hidden": 24, "lr": 2e-3}
    assert max_abs_difference(restored.state_dict(), results["lightning"]["state_dict"]) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_unwritable_checkpoint_folder_is_a_clear_error(kind, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code = exit_code(load_program(TOPIC, kind).main, ["--epochs", "1", "--ckpt-dir", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


@pytest.fixture(scope="module")
def trained(results):
    """A trainer that has fitted the Lightning program's Classifier for one epoch."""
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    module = load_program(TOPIC, "lightning")
    train_set, val_set = module.make_data(0)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module.Classifier(hidden=24), DataLoader(train_set, batch_size=32), DataLoader(val_set, batch_size=32))
    return trainer


def test_save_checkpoint_weights_only_decides_what_is_written(trained, tmp_path, caplog):
    """Trainer.save_checkpoint(weights_only=True) leaves out optimizer, scheduler and callback states (the
    loop state and the hyperparameters stay); left unset it writes everything and says so."""
    trained.save_checkpoint(tmp_path / "weights.ckpt", weights_only=True)
    trained.save_checkpoint(tmp_path / "full.ckpt", weights_only=False)
    with caplog.at_level("INFO", logger="pytorch_lightning"):
        trained.save_checkpoint(tmp_path / "unset.ckpt")
    weights = torch.load(tmp_path / "weights.ckpt", weights_only=True)
    full = torch.load(tmp_path / "full.ckpt", weights_only=True)
    unset = torch.load(tmp_path / "unset.ckpt", weights_only=True)
    assert set(full) - set(weights) == {"optimizer_states", "lr_schedulers", "callbacks"}
    assert {"state_dict", "loops", "epoch", "global_step", "hyper_parameters"} <= set(weights)
    assert set(unset) == set(full)
    assert "`weights_only` was not set, defaulting to `False`." in caplog.text


def test_torch_load_weights_only_decides_how_the_file_is_read(tmp_path):
    """The restricted unpickler refuses an object of another class, whatever the file was saved with."""
    torch.save({"config": {"hidden": 24}, "extra": pickle.PickleError("an object, not a plain value")},
               tmp_path / "object.pt")
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        torch.load(tmp_path / "object.pt", weights_only=True)
    assert torch.load(tmp_path / "object.pt", weights_only=False)["config"] == {"hidden": 24}


def test_overrides_when_reloading(folder, results):
    module = load_program(TOPIC, "lightning")
    path = folder / "lightning" / "nested" / FILES["lightning"]
    assert module.Classifier.load_from_checkpoint(path, lr=1e-4).hparams.lr == 1e-4
    with pytest.raises(RuntimeError, match="size mismatch"):
        module.Classifier.load_from_checkpoint(path, hidden=16)

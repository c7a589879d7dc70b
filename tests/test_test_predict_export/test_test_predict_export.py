"""snippets/test_predict_export: which weights are tested, the predictions written, the exported program (also
without Lightning installed), and the defaults of trainer.test the page states."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import environment_with, load_program, run_program

TOPIC = "test_predict_export"
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
    return tmp_path_factory.mktemp("ship")


@pytest.fixture(scope="module")
def results(folder):
    return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu", out_dir=str(folder / kind)) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_tests_the_best_epoch_predicts_and_exports(results, folder, kind):
    result = results[kind]
    val_loss = result["history"]["val_loss"]
    assert result["best_val_loss"] == pytest.approx(min(val_loss), abs=1e-6)
    assert result["best_val_loss"] < val_loss[-1]  # the claim needs a best epoch that is not the last
    assert result["predictions"].shape == (128, 2)
    # the weights tested, predicted with and exported are the best checkpoint's
    saved = {"pytorch": "best.pt", "fabric": "best.ckpt", "lightning": None}[kind]
    if saved is None:
        [saved] = [name for name in result["files"] if name.startswith("checkpoints/")]
    best = torch.load(folder / kind / saved, weights_only=True)
    best = best.get("state_dict", best.get("model", best))
    assert max_abs_difference(result["state_dict"], best) == 0.0
    assert max_abs_difference(result["exported"]["weights"], best) == 0.0
    assert result["exported"]["inputs"] == [["dynamic", 10]] and result["exported"]["devices"] == ["cpu"]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_results_as_plain_pytorch(results, kind):
    for path in ("predictions", "state_dict"):
        assert max_abs_difference(results[kind][path], results["pytorch"][path]) == 0.0, path
    assert max_abs_difference(results[kind]["exported"]["weights"], results["pytorch"]["exported"]["weights"]) == 0.0
    assert abs(results[kind]["best_val_loss"] - results["pytorch"]["best_val_loss"]) <= 1e-6
    assert abs(results[kind]["test_loss"] - results["pytorch"]["test_loss"]) <= 1e-6
    assert abs(results[kind]["test_accuracy"] - results["pytorch"]["test_accuracy"]) <= 1e-6


@pytest.fixture(scope="module")
def final(folder):
    """Plain PyTorch's run with --test-with final (Lightning's counterpart: trainer.test(module), below)."""
    return run_program(TOPIC, "pytorch", "final", **{**PUBLISHED, "test_with": "final"}, device="cpu",
                       out_dir=str(folder / "final"))


def test_final_weights_test_differently(results, final):
    assert final["history"] == results["pytorch"]["history"]  # the same training
    assert max_abs_difference(final["state_dict"], results["pytorch"]["state_dict"]) > 0
    assert final["test_loss"] < results["pytorch"]["test_loss"]  # the page: the final weights test better here


def test_exported_programs_run_with_torch_alone(results, folder, tmp_path):
    env = environment_with(["torch"], tmp_path / "environments")
    x = load_program(TOPIC, "pytorch").make_data(0)[2].tensors[0]
    torch.save(x, tmp_path / "x.pt")
    script = ("import sys; sys.path.append(sys.argv[1]); import torch\n"
              "x = torch.load(sys.argv[2], weights_only=True)\n"
              "for kind in ('pytorch', 'lightning', 'fabric'):\n"
              "    program = torch.export.load(f'{sys.argv[3]}/{kind}/model.pt2').module()\n"
              "    torch.save(program(x), f'{sys.argv[4]}/{kind}.pt')\n"
              "try:\n    import pytorch_lightning\nexcept ImportError:\n    print('no lightning')\n")
    proc = subprocess.run([sys.executable, "-S", "-c", script, str(env), str(tmp_path / "x.pt"), str(folder),
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "no lightning" in proc.stdout, proc.stderr[-3000:]
    for kind in KINDS:
        assert torch.equal(torch.load(tmp_path / f"{kind}.pt", weights_only=True), results[kind]["predictions"])
    program = torch.export.load(folder / "lightning" / "model.pt2")
    assert {t.device.type for t in program.state_dict.values()} == {"cpu"}
    assert next(iter(program.state_dict)) == "model.0.weight"


def _fitted(module_class, default_checkpoint: bool = False):
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    program = load_program(TOPIC, "lightning")
    train_set, val_set, test_set = program.make_data(0)
    pl.seed_everything(0, verbose=False)
    module = module_class(lr=PUBLISHED.get("lr", 0.03))
    callbacks = [] if default_checkpoint else [ModelCheckpoint(monitor="val_loss")]
    trainer = pl.Trainer(max_epochs=PUBLISHED["epochs"], accelerator="cpu", devices=1, logger=False,
                         callbacks=callbacks, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)),
                DataLoader(val_set, batch_size=32))
    return trainer, module, DataLoader(test_set, batch_size=32)


def test_default_ckpt_path_none_best_without_a_model_current_weights_with_one(tmp_path, monkeypatch, results, final):
    monkeypatch.chdir(tmp_path)
    program = load_program(TOPIC, "lightning")
    trainer, module, test_loader = _fitted(program.Classifier)
    trained = {k: v.clone() for k, v in module.state_dict().items()}
    with_model = trainer.test(module, dataloaders=test_loader, verbose=False)[0]
    assert max_abs_difference(module.state_dict(), trained) == 0.0  # nothing loaded
    assert max_abs_difference(module.model.state_dict(), final["state_dict"]) == 0.0
    assert with_model["test_loss"] == pytest.approx(final["test_loss"], abs=1e-6)
    with pytest.warns(UserWarning, match="The best model of the previous `fit` call will be used"):
        without_model = trainer.test(dataloaders=test_loader, verbose=False)[0]
    assert without_model["test_loss"] == pytest.approx(results["lightning"]["test_loss"], abs=1e-6)
    # the checkpoint was loaded into the module that was trained, in place
    assert max_abs_difference(module.state_dict(), trained) > 0
    best = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=True)["state_dict"]
    assert max_abs_difference(module.state_dict(), best) == 0.0


def test_best_of_the_default_checkpoint_callback_is_the_latest_epoch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    program = load_program(TOPIC, "lightning")
    trainer, module, test_loader = _fitted(program.Classifier, default_checkpoint=True)
    final = {k: v.clone() for k, v in module.state_dict().items()}
    assert trainer.checkpoint_callback.monitor is None
    with pytest.warns(UserWarning, match="The best model of the previous `fit` call will be used"):
        trainer.test(dataloaders=test_loader, verbose=False)
    assert max_abs_difference(module.state_dict(), final) == 0.0
    assert f"epoch={PUBLISHED['epochs'] - 1}-" in Path(trainer.checkpoint_callback.best_model_path).name


def test_epoch_writer_receives_every_batch_without_return_predictions(tmp_path):
    import pytorch_lightning as pl

    program = load_program(TOPIC, "lightning")
    received = {}

    class Counting(program.PredictionWriter):
        def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
            received["batches"] = len(predictions)
            super().write_on_epoch_end(trainer, pl_module, predictions, batch_indices)

    x = program.make_data(0)[2].tensors[0]
    loader = DataLoader(TensorDataset(x), batch_size=32)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[Counting(tmp_path / "p.pt")])
    assert trainer.predict(program.Classifier(), dataloaders=loader, return_predictions=False) is None
    assert received["batches"] == len(loader) == 4
    assert torch.load(tmp_path / "p.pt", weights_only=True).shape == (128, 2)


def test_export_the_module_not_fabrics_wrapper_and_declare_the_batch_dimension():
    from lightning_fabric import Fabric

    program = load_program(TOPIC, "fabric")
    x = program.make_data(0)[2].tensors[0]
    wrapped = Fabric(accelerator="cpu", devices=1).setup(program.build_model())
    with pytest.raises(Exception, match="Detected mismatch between the structure of `inputs` and `dynamic_shapes`"):
        torch.export.export(wrapped, (x[:8],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    fixed = torch.export.export(wrapped.module.eval(), (x[:8],)).module()
    with pytest.raises(Exception, match="8"):
        fixed(x)

"""snippets/weights_io: every round trip bitwise, the files read across styles (one without Lightning installed),
and the pitfalls the page states."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import environment_with, load_program, run_downloaded

TOPIC = "weights_io"
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
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="module")
def results(folder):
    return {kind: load_program(TOPIC, kind).run(**PUBLISHED, device="cpu", out_dir=str(folder)) for kind in KINDS}


def _net(state: dict):
    net = load_program(TOPIC, "pytorch").build_model()
    net.load_state_dict(state)
    return net


@pytest.mark.parametrize("kind", KINDS)
def test_every_round_trip_gives_back_the_trained_network_bit_for_bit(results, kind):
    trips = results[kind]["round_trips"]
    assert len(trips) == {"pytorch": 2, "lightning": 3, "fabric": 3}[kind]
    assert all(t["identical"] and t["difference"] == 0.0 for t in trips), trips
    assert results[kind]["round_trip_max"] == 0.0
    assert len(results[kind]["history"]["val_loss"]) == PUBLISHED["epochs"]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_trained_weights_as_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


def test_the_check_catches_a_network_that_is_not_the_trained_one(folder, results):
    """The round-trip check fails when the reloaded network differs (here: a fresh, untrained one)."""
    module = load_program(TOPIC, "pytorch")
    trained = _net(results["pytorch"]["state_dict"])
    x = module.make_data(0)[1].tensors[0]
    trip = module.compare("untrained", folder / "pytorch_weights.pt", trained, module.build_model(), x)
    assert not trip["identical"] and trip["difference"] > 0


@pytest.mark.parametrize("file", ["pytorch_weights.pt", "pytorch_checkpoint.pt", "lightning.ckpt", "from_weights.ckpt",
                                  "fabric.ckpt", "fabric_weights.pt", "fabric_to_lightning.ckpt"])
def test_plain_reader_reads_every_file_of_every_style(folder, results, file):
    """The plain program's load_weights, on the files all three programs wrote, gives the trained weights."""
    weights = load_program(TOPIC, "pytorch").load_weights(folder / file)
    assert max_abs_difference(weights, results["pytorch"]["state_dict"]) == 0.0
    torch.load(folder / file, weights_only=True)  # tensors and plain values only


def test_a_lightning_checkpoint_converts_without_lightning_installed(folder, results, outside_repo):
    """python pytorch_weights_io.py --convert lightning.ckpt, with only torch installed."""
    ckpt = folder / "lightning.ckpt"
    proc = run_downloaded(TOPIC, ["pytorch"], ["--epochs", "1", "--convert", str(ckpt)], outside_repo,
                          only={"pytorch": ["torch"]})["pytorch"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    converted = torch.load(outside_repo / "pytorch" / "lightning_as_plain.pt", weights_only=True)
    assert list(converted) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert max_abs_difference(converted, results["lightning"]["state_dict"]) == 0.0
    env = environment_with(["torch"], outside_repo.parent / "environments")
    check = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path.append({str(env)!r}); "
                            "import torch; import pytorch_lightning"], capture_output=True, text=True)
    assert check.returncode != 0 and "No module named 'pytorch_lightning'" in check.stderr


def test_lightning_loads_the_checkpoints_the_other_styles_wrote(folder, results):
    classifier = load_program(TOPIC, "lightning").Classifier
    for file in ["from_weights.ckpt", "fabric_to_lightning.ckpt", "lightning.ckpt"]:
        module = classifier.load_from_checkpoint(folder / file)
        assert max_abs_difference(module.model.state_dict(), results["lightning"]["state_dict"]) == 0.0
        assert module.hparams.lr == PUBLISHED.get("lr", 1e-3)


def test_fabric_restores_the_plain_checkpoint_with_its_optimizer(folder, results):
    from lightning_fabric import Fabric

    module = load_program(TOPIC, "pytorch")
    fabric = Fabric(accelerator="cpu", devices=1)
    model = module.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model, optimizer = fabric.setup(model, optimizer)
    remainder = fabric.load(folder / "pytorch_checkpoint.pt", {"model": model, "optimizer": optimizer})
    assert remainder == {"epoch": PUBLISHED["epochs"]}
    assert max_abs_difference(model.module.state_dict(), results["pytorch"]["state_dict"]) == 0.0
    saved = torch.load(folder / "pytorch_checkpoint.pt", weights_only=True)["optimizer"]
    assert max_abs_difference(optimizer.state_dict()["state"], saved["state"]) == 0.0
    assert optimizer.state_dict()["state"][0]["step"].item() > 0
    raw = fabric.setup(module.build_model())
    fabric.load_raw(folder / "pytorch_weights.pt", raw)
    assert max_abs_difference(raw.module.state_dict(), results["pytorch"]["state_dict"]) == 0.0


def test_the_prefix_must_be_stripped_and_strict_false_hides_it(folder, results):
    module = load_program(TOPIC, "pytorch")
    checkpoint = torch.load(folder / "lightning.ckpt", weights_only=True)
    assert "model" not in checkpoint and next(iter(checkpoint["state_dict"])) == "model.0.weight"
    with pytest.raises(RuntimeError, match="Missing key"):
        module.build_model().load_state_dict(checkpoint["state_dict"])
    torch.manual_seed(0)
    net = module.build_model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    outcome = net.load_state_dict(checkpoint["state_dict"], strict=False)
    assert len(outcome.missing_keys) == 4 and len(outcome.unexpected_keys) == 4
    assert max_abs_difference(net.state_dict(), before) == 0.0  # nothing was loaded
    assert max_abs_difference(net.state_dict(), results["lightning"]["state_dict"]) > 0


def test_orig_mod_prefix_from_torch_compile(tmp_path, results):
    import pytorch_lightning as pl
    from lightning_fabric import Fabric

    module = load_program(TOPIC, "pytorch")
    trained = _net(results["pytorch"]["state_dict"])
    compiled = torch.compile(trained)  # never called: compiling happens at the first forward
    assert next(iter(compiled.state_dict())) == "_orig_mod.0.weight"
    torch.save(compiled.state_dict(), tmp_path / "compiled.pt")
    assert max_abs_difference(module.load_weights(tmp_path / "compiled.pt"), results["pytorch"]["state_dict"]) == 0.0

    class Wrapper(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = torch.compile(trained)

    state = Wrapper().state_dict()
    assert next(iter(state)) == "model._orig_mod.0.weight"
    torch.save({"state_dict": state, "pytorch-lightning_version": pl.__version__}, tmp_path / "compiled.ckpt")
    assert max_abs_difference(module.load_weights(tmp_path / "compiled.ckpt"), results["pytorch"]["state_dict"]) == 0.0

    fabric = Fabric(accelerator="cpu", devices=1)
    fabric.save(tmp_path / "fabric_compiled.ckpt", {"model": fabric.setup(torch.compile(_net(results["pytorch"]["state_dict"])))})
    assert next(iter(torch.load(tmp_path / "fabric_compiled.ckpt", weights_only=True)["model"])) == "0.weight"


def _trainer():
    import pytorch_lightning as pl

    return pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)


def test_a_checkpoint_without_fit_loads_but_does_not_resume(folder, results, tmp_path):
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    program = load_program(TOPIC, "lightning")
    with pytest.raises(AttributeError, match="only possible if a model is attached"):
        _trainer().save_checkpoint(tmp_path / "early.ckpt")
    without_version = torch.load(folder / "from_weights.ckpt", weights_only=True)
    del without_version["pytorch-lightning_version"]
    torch.save(without_version, tmp_path / "no_version.ckpt")
    with pytest.raises(KeyError, match="pytorch-lightning_version"):
        program.Classifier.load_from_checkpoint(tmp_path / "no_version.ckpt")

    train_set, val_set = program.make_data(0)
    loader, val_loader = DataLoader(train_set, batch_size=32), DataLoader(val_set, batch_size=32)
    with pytest.raises(KeyError, match="Trying to restore optimizer state but checkpoint contains only the model"):
        _trainer().fit(program.Classifier(), loader, val_loader, ckpt_path=folder / "from_weights.ckpt")

    fresh = program.Classifier()
    fresh.model.load_state_dict(results["lightning"]["state_dict"])
    maker = _trainer()
    maker.strategy.connect(fresh)
    maker.save_checkpoint(tmp_path / "attached.ckpt", weights_only=False)
    resumed = program.Classifier()
    trainer = _trainer()
    trainer.fit(resumed, loader, val_loader, ckpt_path=tmp_path / "attached.ckpt")
    assert trainer.global_step == len(loader)
    assert pl.__version__ == __import__("lightning_fabric").__version__

"""snippets/weights_io: every round trip bitwise, the files read across styles (one without Lightning installed),
and the pitfalls the page states.

The programs run at the published configuration with the harness's gather (tests.conftest.run_program), each
writing into its own folder of one module-wide folder."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from evidence import checks, declared
from evidence.running.measure import max_abs_difference
from tests.conftest import environment_with, load_program, run_downloaded, run_program

TOPIC = "weights_io"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params
"""The headline run's parameters (runs.toml): what the page shows."""
FILES = {"pytorch": ["pytorch_checkpoint.pt", "pytorch_weights.pt"],
         "lightning": ["from_weights.ckpt", "lightning.ckpt", "lightning_weights.pt"],
         "fabric": ["fabric.ckpt", "fabric_to_lightning.ckpt", "fabric_weights.pt"]}


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
    return {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu", out_dir=str(folder / kind)) for kind in KINDS}


def _net(state: dict):
    net = load_program(TOPIC, "pytorch").build_model()
    net.load_state_dict(state)
    return net


@pytest.mark.parametrize("kind", KINDS)
def test_every_route_gives_back_the_trained_network_bit_for_bit(results, kind):
    predictions = results[kind]["predictions"]
    routes = ["trained", "weights", "checkpoint"] + (["lightning_ckpt"] if kind != "pytorch" else [])
    assert sorted(predictions) == sorted(routes)
    for route in routes:
        assert torch.equal(predictions[route], predictions["trained"]), route
    assert torch.equal(_net(results[kind]["state_dict"]).eval()(load_program(TOPIC, kind).make_data(0)[1].tensors[0]),
                       predictions["trained"])
    assert sorted(results[kind]["files"]) == FILES[kind]
    assert len(results[kind]["history"]["val_loss"]) == PUBLISHED["epochs"]


@pytest.mark.parametrize("kind", ["lightning", "fabric"])
def test_same_trained_weights_as_plain_pytorch(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6
    for route in ("trained", "weights", "checkpoint"):
        assert torch.equal(results[kind]["predictions"][route], results["pytorch"]["predictions"][route])


def test_declared_checks_hold_on_these_results(results):
    from evidence.running.worker import _jsonable

    reports = {"round_trips": {"implementations": {kind: _jsonable({k: v for k, v in r.items() if k != "model"})
                                                   for kind, r in results.items()}}}
    found = [checks.evaluate(check, reports) for check in checks.declared_checks(TOPIC)]
    assert found and all(c["expected"] for c in found), [c for c in found if not c["expected"]]


def test_the_checks_catch_a_network_that_is_not_the_trained_one(results, monkeypatch, tmp_path):
    """A route that loads nothing keeps a fresh network's weights: its logits differ, and the declared check says so."""
    from evidence.running.worker import _jsonable

    monkeypatch.setattr(torch.nn.Module, "load_state_dict", lambda self, state, strict=True, assign=False: None)
    broken = run_program(TOPIC, "pytorch", **PUBLISHED, device="cpu", out_dir=str(tmp_path))
    reports = {"round_trips": {"implementations": {"pytorch": _jsonable({k: v for k, v in broken.items()
                                                                         if k != "model"})}}}
    found = checks.evaluate(next(c for c in checks.declared_checks(TOPIC) if c.name == "weights_route"), reports)
    assert found["verdict"] == "differs" and not found["expected"]


@pytest.mark.parametrize("kind, file", [(kind, file) for kind, files in FILES.items() for file in files])
def test_plain_reader_reads_every_file_of_every_style(folder, results, kind, file):
    """The plain program's load_weights, on the files all three programs wrote, gives the trained weights."""
    weights = load_program(TOPIC, "pytorch").load_weights(folder / kind / file)
    assert max_abs_difference(weights, results["pytorch"]["state_dict"]) == 0.0
    torch.load(folder / kind / file, weights_only=True)  # tensors and plain values only


def test_a_lightning_checkpoint_converts_without_lightning_installed(folder, results, outside_repo):
    """python pytorch_weights_io.py --convert lightning.ckpt, with only torch installed."""
    ckpt = folder / "lightning" / "lightning.ckpt"
    proc = run_downloaded(TOPIC, ["pytorch"], ["--epochs", "1", "--convert", str(ckpt)], outside_repo,
                          only={"pytorch": ["torch"]})["pytorch"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    converted = torch.load(outside_repo / "pytorch" / "weights_torch" / "lightning_as_plain.pt", weights_only=True)
    assert list(converted) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert max_abs_difference(converted, results["lightning"]["state_dict"]) == 0.0
    env = environment_with(["torch"], outside_repo.parent / "environments")
    check = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path.append({str(env)!r}); "
                            "import torch; import pytorch_lightning"], capture_output=True, text=True)
    assert check.returncode != 0 and "No module named 'pytorch_lightning'" in check.stderr


def test_lightning_loads_the_checkpoints_the_other_styles_wrote(folder, results):
    classifier = load_program(TOPIC, "lightning").Classifier
    for file in ["lightning/from_weights.ckpt", "fabric/fabric_to_lightning.ckpt", "lightning/lightning.ckpt"]:
        module = classifier.load_from_checkpoint(folder / file)
        assert max_abs_difference(module.model.state_dict(), results["lightning"]["state_dict"]) == 0.0
        assert module.hparams.lr == 1e-3


def test_fabric_restores_the_plain_checkpoint_with_its_optimizer(folder, results):
    from lightning_fabric import Fabric

    module = load_program(TOPIC, "pytorch")
    fabric = Fabric(accelerator="cpu", devices=1)
    model = module.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model, optimizer = fabric.setup(model, optimizer)
    remainder = fabric.load(folder / "pytorch" / "pytorch_checkpoint.pt", {"model": model, "optimizer": optimizer})
    assert remainder == {"epoch": PUBLISHED["epochs"]}
    assert max_abs_difference(model.module.state_dict(), results["pytorch"]["state_dict"]) == 0.0
    saved = torch.load(folder / "pytorch" / "pytorch_checkpoint.pt", weights_only=True)["optimizer"]
    assert max_abs_difference(optimizer.state_dict()["state"], saved["state"]) == 0.0
    assert optimizer.state_dict()["state"][0]["step"].item() > 0
    raw = fabric.setup(module.build_model())
    fabric.load_raw(folder / "pytorch" / "pytorch_weights.pt", raw)
    assert max_abs_difference(raw.module.state_dict(), results["pytorch"]["state_dict"]) == 0.0


def test_the_prefix_must_be_stripped_and_strict_false_only_returns_the_keys(folder, results):
    """strict=True raises; strict=False raises nothing and warns nothing, loads nothing, and returns the keys it
    could not match: the network's own names as missing, the checkpoint's prefixed ones as unexpected."""
    module = load_program(TOPIC, "pytorch")
    checkpoint = torch.load(folder / "lightning" / "lightning.ckpt", weights_only=True)
    assert "model" not in checkpoint and next(iter(checkpoint["state_dict"])) == "model.0.weight"
    with pytest.raises(RuntimeError, match="Missing key"):
        module.build_model().load_state_dict(checkpoint["state_dict"])
    torch.manual_seed(0)
    net = module.build_model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = net.load_state_dict(checkpoint["state_dict"], strict=False)
    assert caught == []
    names = list(before)
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert outcome.missing_keys == names
    assert outcome.unexpected_keys == [f"model.{name}" for name in names] == list(checkpoint["state_dict"])
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
    without_version = torch.load(folder / "lightning" / "from_weights.ckpt", weights_only=True)
    del without_version["pytorch-lightning_version"]
    torch.save(without_version, tmp_path / "no_version.ckpt")
    with pytest.raises(KeyError, match="pytorch-lightning_version"):
        program.Classifier.load_from_checkpoint(tmp_path / "no_version.ckpt")

    train_set, val_set = program.make_data(0)
    loader, val_loader = DataLoader(train_set, batch_size=32), DataLoader(val_set, batch_size=32)
    with pytest.raises(KeyError, match="Trying to restore optimizer state but checkpoint contains only the model"):
        _trainer().fit(program.Classifier(), loader, val_loader, ckpt_path=folder / "lightning" / "from_weights.ckpt")

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

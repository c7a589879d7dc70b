"""
# Getting your weights out, and back in

Weights cross the border between the styles all the time: a model trained with Lightning has to
run in a service that has only `torch`; years of plain `state_dict` files have to seed a new
`LightningModule`; a Fabric user hands a model to a Lightning colleague. Each program below
trains the minimal loop's network, writes its weights the way its style writes them, reads them
back by the route its style takes, and predicts the validation rows with every network it got
back and with the one it trained: the page checks that the logits are **bitwise** the same.

- **Plain PyTorch** writes `model.state_dict()` (`pytorch_weights.pt`) and a full checkpoint
  with Fabric's key names (`{"model": ..., "optimizer": ..., "epoch": ...}`,
  `pytorch_checkpoint.pt`). Its `load_weights()` reads any of the three styles' files with
  `torch` alone; `--convert lightning.ckpt` turns a Lightning checkpoint into plain weights.
- **Lightning** writes `trainer.save_checkpoint("lightning.ckpt")`, takes the network's
  tensors out of it with `torch.load` alone, puts plain weights into a fresh `LightningModule`
  (`module.model.load_state_dict(...)`), and makes a `.ckpt` from them **without a dummy
  `fit`**, which `Classifier.load_from_checkpoint` loads.
- **Fabric** writes `fabric.ckpt` with `fabric.save`, the model under the key `"model"`, reads it into a plain
  network with `torch.load`, loads plain weights with `fabric.load_raw`, and writes and reads a
  checkpoint in Lightning's layout.

**What Lightning and Fabric take off your hands:** writing the checkpoint. `trainer.save_checkpoint`
and `fabric.save` turn the modules and optimizers into state dicts for you, and
`load_from_checkpoint` rebuilds the module from its saved hyperparameters. Getting plain
weights out is yours in every style, and it is short: a Lightning checkpoint is a dictionary
saved by `torch.save`, whose `"state_dict"` holds the `LightningModule`'s tensors under the
attribute names of its submodules (`model.0.weight` for `self.model`); a Fabric checkpoint holds
`model.state_dict()` under the key you gave it.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each program
# writes its files into `--out-dir` (`weights_torch`, `weights_lightning`, `weights_fabric` by
# default) and returns the trained network and the logits of every network it read back, by
# route: `weights` (a plain state-dict file), `checkpoint` (the style's own checkpoint) and, for
# Lightning and Fabric, `lightning_ckpt` (a file in Lightning's layout written without `fit`).
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# Here the run's checks also compare, across implementations, the logits of the trained
# network and of the networks read back from the plain weights and from each style's checkpoint.

from evidence import load
from evidence.programs import LABELS
from evidence.views import Code, codes, table

runs = load("weights_io")
result = runs.headline
result.executed()

# %%
# ### Every round trip, bit for bit
#
# Each route's network against the trained one, on every validation row, in every
# implementation; declared in the topic's `runs.toml`:

runs.verdicts("weights_route", "checkpoint_route", "lightning_ckpt_without_fit", "fabric_via_lightning_layout")

# %%
# ### What each file holds
#
# Every file the programs wrote, read back with `torch.load(weights_only=True)` after the run:
# its top-level keys and the key under which it stores the network's first tensor, which shows
# the prefix a reader has to strip (`model.` in Lightning's layout, none in a plain state dict).

rows = []
for kind in result.kinds():
    for name, written in result.value(kind, "files").items():
        keys = written["keys"]
        holder = next((keys[k] for k in ("state_dict", "model") if k in keys), None)
        stored_as = holder["keys"][0] if holder else next(iter(keys))
        rows.append([LABELS[kind], Code(name), codes(keys), Code(stored_as), f"{written['file_bytes']:,} B"])
table(["implementation", "file", "top-level keys", "first weight stored as", "size"], rows)

# %%
# --8<-- "gallery/shared/costs.md"
#
# Each run includes writing and reading every file in the table above.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "A `.ckpt` without Lightning installed ([#4792](https://github.com/Lightning-AI/pytorch-lightning/issues/4792))"
#     A checkpoint written by `Trainer.save_checkpoint` holds only tensors and plain Python
#     values, so `torch.load(path, weights_only=True)` reads it where Lightning is not installed,
#     and `checkpoint["state_dict"]` holds the weights. The tests run the plain program as
#     `python pytorch_weights_io.py --convert lightning.ckpt` in an environment holding only
#     `torch` (importing `pytorch_lightning` fails there) on the file the Lightning program wrote,
#     and its plain weights equal the Lightning program's bit for bit. What such an environment
#     cannot do is `Classifier.load_from_checkpoint`: that needs the class, and Lightning.
#
# !!! warning "The prefix is the attribute's name ([#19047](https://github.com/Lightning-AI/pytorch-lightning/issues/19047))"
#     A `LightningModule`'s state dict names each tensor by the attribute that holds its
#     submodule: `self.model` gives `model.0.weight`, `self.encoder` and `self.decoder` give
#     `encoder.…` and `decoder.…`. There is no top-level `checkpoint["encoder"]` (the
#     documentation example that issue reports fails with a `KeyError`); select the keys that
#     start with the attribute's name and strip it, as every program here does for `model.`.
#     Loading the unstripped keys with `strict=True` fails ("Missing key(s)"); with
#     `strict=False` it **loads nothing, and raises and warns nothing**: it returns the keys it
#     could not match (`missing_keys`: the network's `0.weight`, `0.bias`, …;
#     `unexpected_keys`: the file's `model.0.weight`, …), which a caller that ignores the return
#     value never sees, and the network keeps its random initialisation. Read both lists after a
#     non-strict load. The tests pin all of it.
#
# !!! warning "`_orig_mod.`: a compiled module's names"
#     `torch.compile(model)` returns a wrapper whose state dict prefixes every name with
#     `_orig_mod.`; saving `compiled.state_dict()` in a plain loop, or compiling a submodule
#     inside a `LightningModule` (`self.model = torch.compile(net)`, giving
#     `model._orig_mod.0.weight`), writes those names into the file. The plain program's
#     `load_weights` strips `_orig_mod.` after the attribute prefix; `fabric.save` of a compiled
#     module that went through `fabric.setup` writes the names without it. The tests pin all
#     three.
#
# !!! warning "A Lightning checkpoint from plain weights, without a dummy `fit` ([#21280](https://github.com/Lightning-AI/pytorch-lightning/issues/21280))"
#     `Trainer.save_checkpoint` refuses to run before a model is attached ("Saving a checkpoint
#     is only possible if a model is attached to the Trainer"), and Lightning 2.6 has no
#     `LightningModule.save_checkpoint` (the feature request is open). `load_from_checkpoint`
#     reads three keys: `"state_dict"`, `"hyper_parameters"` (optional) and
#     `"pytorch-lightning_version"`, which it needs to decide which format migrations to apply
#     (without it: `KeyError: 'pytorch-lightning_version'`). A dictionary with those keys, saved
#     with `torch.save`, is what the Lightning program writes, and what the Fabric program writes
#     with `fabric.save` (`lightning_fabric.__version__` is Lightning's version: one package ships
#     both). Such a file is for loading weights, not for resuming: `trainer.fit(ckpt_path=...)`
#     stops with `KeyError: 'Trying to restore optimizer state but checkpoint contains only the
#     model...'`. For a file `fit(ckpt_path=...)` accepts, attach the module without training,
#     `trainer.strategy.connect(module)`, then `trainer.save_checkpoint(path)`: this works in
#     Lightning 2.6 (the tests resume from such a file) but `Strategy.connect` is not documented
#     as a user API.
#
# !!! note "Fabric reads plain weights and writes plain dictionaries"
#     `fabric.load_raw(path, model)` (since Lightning 2.1.0) loads a plain `state_dict` file into
#     a module set up by Fabric, as `model.load_state_dict(torch.load(path))` would.
#     `fabric.save` given the state `{"model": model, "optimizer": optimizer}` writes the state dicts under
#     your keys, so a plain checkpoint that uses the same names (the plain program's
#     `pytorch_checkpoint.pt`) is restored by `fabric.load(path, {"model": model, "optimizer":
#     optimizer})` with its optimizer state; the tests check it.
#
# ??? info "`weights_only` when reading"
#     Every file above holds tensors and plain values only, so each is read with
#     `torch.load(path, weights_only=True)`, torch's restricted unpickler, which refuses any other
#     object and is torch's default for local files since 2.6. `load_from_checkpoint` and
#     `fabric.load` hand their `weights_only` argument (default `None`) to torch, which then
#     decides.

"""
# Hyperparameters and reloading a model

A checkpoint of weights alone is not enough to use a model again: you also need the values
that decided its shape (here the width of the hidden layer) and, usually, how it was trained.
Each program trains with a non-default width (the run below gives it), saves one checkpoint,
rebuilds the network **from what the checkpoint says**, and validates the rebuilt model again.
`run()` returns the rebuilt model, the hyperparameters it was rebuilt with (`hparams`) and its
validation loss (`reloaded_val_loss`).

- **Plain PyTorch:** a `config` dict of the hyperparameters, saved next to the `state_dict`
  by `torch.save` as `{"config": ..., "state_dict": ...}`; reloading reads the config first,
  builds the model from it, then loads the weights.
- **Lightning:** `self.save_hyperparameters()` in `__init__` records its arguments in
  `self.hparams` and in every checkpoint under `"hyper_parameters"`;
  `Classifier.load_from_checkpoint(path)` calls `__init__` with them and loads the weights,
  and `trainer.validate(restored, val_loader)` runs the validation loop on the rebuilt model.
- **Fabric:** the same dict as plain PyTorch, saved by `fabric.save` to `path` as
  `{"config": ..., "model": model, "optimizer": optimizer}` and read back with `fabric.load(path)`.

**What Lightning takes off your hands:** writing the config dict and the rebuild function.
`save_hyperparameters()` collects the `__init__` arguments for you, and `load_from_checkpoint`
is the rebuild function. **Fabric** turns the model and optimizer into state dicts when saving
(and handles distributed saving), but the config is yours to write, as in plain PyTorch.
"""

# %%
# ## The three programs
#
# Each program writes its checkpoint to `--ckpt-dir` (the current folder by default; in the
# runs below each program has a folder of its own).
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The weights compared are those of the model each program **rebuilt** from its checkpoint.

from evidence import load
from evidence.views import Code, codes

hparams = load("hyperparameters")
result = hparams.headline
result.executed()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Rebuilt from the checkpoint alone
#
# The width read back decides the shape of the rebuilt network, and the rebuilt network must
# compute what the trained one did: its validation loss is compared with the last one of the
# training run, without a tolerance.

hparams.verdicts("reloaded_at_saved_width", "reloaded_model_validates_the_same")

# %%
# ### What the checkpoints hold
#
# Each file read back after the run (with `torch.load(weights_only=True)`) by the harness: its
# size and top-level keys, beside the hyperparameters the program rebuilt its model with. The
# hand-written checkpoints hold only what was put in them.

result.per_implementation({
    "checkpoint file": lambda impl: codes(impl["checkpoint"]),
    "bytes": lambda impl: [entry["file_bytes"] for entry in impl["checkpoint"].values()],
    "top-level keys": lambda impl: codes(*(entry["keys"] for entry in impl["checkpoint"].values())),
    "hyperparameters read back": lambda impl: Code(str(impl["hparams"])),
})

# %%
# What only Lightning's file holds, from `dump_checkpoint` in
# `pytorch_lightning/trainer/connectors/checkpoint_connector.py`: `loops` (the state of the
# fit, validate, test and predict loops), `callbacks` (each callback's state), `lr_schedulers`,
# `epoch` and `global_step` (the counters), `pytorch-lightning_version`, and `hparams_name`
# (the attribute the hyperparameters came from). `trainer.fit(ckpt_path=...)` restores the
# loop, callback and scheduler states from them to resume a run;
# `Trainer.save_checkpoint(path, weights_only=False)`, as here, writes them whether or not you
# will resume. The optimizer state is not what sets it apart, since Fabric's file holds it too:

hparams.verdicts("lightning_checkpoint_largest")

# %%
# --8<-- "gallery/shared/costs.md"
#
# Each run includes writing and reading one checkpoint, and validating the rebuilt model.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "Only `__init__` arguments are saved"
#     `save_hyperparameters()` records the arguments of the LightningModule's `__init__`, and
#     nothing else: the batch size, the number of epochs or the data settings given to the
#     `DataLoader` and the `Trainer` are not in `"hyper_parameters"` unless they are also
#     `__init__` arguments (or you pass them to a `LightningDataModule` that saves its own).
#     Objects such as a whole `nn.Module` passed to `__init__` are pickled into the
#     checkpoint; exclude them with `save_hyperparameters(ignore=[...])`.
#
# !!! warning "Rebuild from the saved values, not from defaults"
#     Loading these weights into `build_model()` with its default width of 16 fails with a
#     size mismatch; loading them into a model with the right shape but other settings that
#     do not show in the weights (dropout, an activation) would *succeed* and predict
#     differently. Reading the config from the checkpoint avoids both.
#
# !!! note "Two different `weights_only`"
#     `Trainer.save_checkpoint(path, weights_only=...)` decides **what is written**: `True`
#     leaves out the optimizer and scheduler states and the callbacks' states (the weights,
#     the loop state, the epoch and step counters and the hyperparameters stay); `False` writes
#     everything, which resuming needs. Since Lightning 2.6.0 it defaults to `None`, which
#     writes everything and logs "`weights_only` was not set, defaulting to `False`", so the
#     program passes `False`.
#
#     `torch.load(path, weights_only=...)` decides **how the file is read**: `True` is the
#     restricted unpickler, which accepts tensors and plain Python values (numbers, strings,
#     lists, dicts) and refuses any other object, so that a file from elsewhere cannot run
#     code. torch defaults to it since 2.6 for local files; `load_from_checkpoint(path,
#     weights_only=...)` and `fabric.load` pass the argument on and, since Lightning 2.6.0,
#     leave the default to torch (Lightning 2.4 and 2.5 passed `False`). The two are
#     independent: the full checkpoint the Lightning program writes with
#     `save_checkpoint(weights_only=False)` loads with `torch.load(weights_only=True)`, as
#     all three files here do (the harness reads them that way); a config holding an object
#     of your own class would not.
#
# ??? info "Changing a hyperparameter when reloading"
#     `Classifier.load_from_checkpoint(path, lr=1e-4)` overrides a saved value. An override
#     that changes a shape (here `hidden=`) fails when the weights are loaded, as it should.

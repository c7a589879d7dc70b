"""
# Hyperparameters and reloading a model

A checkpoint of weights alone is not enough to use a model again: you also need the values
that decided its shape (here the width of the hidden layer) and, usually, how it was trained.
Each program trains with a non-default width (the run below gives it), saves one checkpoint,
rebuilds the network **from what the checkpoint says**, and checks that the rebuilt model
predicts exactly what the trained one did.

- **Plain PyTorch:** a `config` dict of the hyperparameters, saved next to the `state_dict`
  by `torch.save` as `{"config": ..., "state_dict": ...}`; reloading reads the config first,
  builds the model from it, then loads the weights.
- **Lightning:** `self.save_hyperparameters()` in `__init__` records its arguments in
  `self.hparams` and in every checkpoint under `"hyper_parameters"`;
  `Classifier.load_from_checkpoint(path)` calls `__init__` with them and loads the weights.
- **Fabric:** the same dict as plain PyTorch, saved by `fabric.save` to `path` as
  `{"config": ..., "model": model, "optimizer": optimizer}` and read back with `fabric.load(path)`.

**What Lightning takes off your hands:** writing the config dict and the rebuild function.
`save_hyperparameters()` collects the `__init__` arguments for you, and `load_from_checkpoint`
is the rebuild function. **Fabric** turns the model and optimizer into state dicts when saving
(and handles distributed saving), but the config is yours to write, as in plain PyTorch.

Each program writes its checkpoint to `--ckpt-dir` (the current folder by default) and returns
only the file's name.
"""

# %%
# ## The three programs
#
# The check that the rebuilt model predicts what the trained one did is the page's evidence,
# not part of the task, and is not counted as lines of code.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: the default logger would write a
#     `lightning_logs/` folder and the default `ModelCheckpoint` a checkpoint every epoch,
#     files the reader did not ask for (the program saves its one checkpoint itself). The
#     sanity-check validation and the rest stay at their defaults; the progress bar and the
#     model summary are on when the program runs from the command line and off in the quiet,
#     timed runs.
#
# ## Executed in this build

from evidence import load
from evidence.views.topics import hyperparameters as views

result = load("hyperparameters").headline
result.stamp()

# %%
# ### What each program printed

result.logs()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### What the checkpoints hold
#
# Read back from each checkpoint file after it was written: its size, its top-level keys and
# the hyperparameters stored in it. The hand-written ones hold only what was put in them.

views.checkpoint_table(result)

# %%

views.sizes_sentence(result)

# %%
# ### Does the reloaded model predict the same?
#
# Each program compares the logits of the trained model and of the model rebuilt from the
# checkpoint on every validation row (the shape is in the table), with `torch.equal`: bit for
# bit, not within a tolerance.

views.reload_table(result)

# %%
# ### Do the implementations agree?
#
# The reloaded predictions, the reloaded weights and the saved hyperparameters of Lightning and
# Fabric against plain PyTorch's.

result.parity()

# %%
# ### What each program did, call by call
#
# The headline run once more, untimed, with every training call recorded through PyTorch's own
# hooks (the programs are unchanged; the recorded pass ended with the same weights): forward
# passes with the model's mode and grad mode, `zero_grad`, `backward`, optimizer and scheduler
# steps, clipping, checkpoint saves, and who made each call. Rows where the programs differ are
# marked; [What the Trainer does for you](../../explained/01_what_the_trainer_does/plot_what_the_trainer_does.md)
# reads the minimal loop's recording line by line.

result.trace()

# %%
# ### Time and memory
#
# Each run includes writing and reading one checkpoint (the sizes are above).

result.timings()

# %%
# ### Lines of code

result.loc()

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
#     all three files here do (the tests load them that way); a config holding an object of
#     your own class would not.
#
# ??? info "Changing a hyperparameter when reloading"
#     `Classifier.load_from_checkpoint(path, lr=1e-4)` overrides a saved value. An override
#     that changes a shape (here `hidden=`) fails when the weights are loaded, as it should.

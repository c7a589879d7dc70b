"""
# Keeping the best checkpoints

Save a checkpoint whenever the validation loss enters the best *k* seen so far, delete the one
it pushes out, and keep a `last.ckpt` beside them; afterwards, load the best one back and
predict with it. The model and data are those of the minimal loop (Adam at `lr=0.03`, so that
the validation loss goes up and down and the best epochs are not simply the last ones).

**What Lightning takes off your hands:** `ModelCheckpoint(monitor="val_loss", save_top_k=k,
save_last=True)` does the ranking, the file names, the deletions and the bookkeeping of the best
path, and `load_from_checkpoint` rebuilds the module from the saved hyperparameters. What it
writes is a larger file: besides weights and optimizer state, a Lightning checkpoint records
the loop state, each callback's state and the hyperparameters (the tables below list it all).
**Fabric** keeps your ranking code; `fabric.save` / `fabric.load` turn the model and optimizer
into state dicts and back (and would gather sharded states on several devices).

The plain and Fabric programs rank the epochs by hand (a checkpoint enters the top *k* if its
loss is strictly lower than the worst one kept, as in Lightning) and write `last.ckpt` after
every epoch; the Lightning program configures `ModelCheckpoint`. Each returns the trained
network, the path of its best checkpoint and the best model's predictions on the validation
set; the files each one left in its folder are read back by the site after the run.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each program
# writes into its own `--ckpt-dir` (default `checkpoints_torch`, `checkpoints_lightning`,
# `checkpoints_fabric` in the current directory), replacing any `.ckpt` files already there.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# Here the run's checks compare the best model's predictions on the validation set, the names
# of the files left in each folder, the final weights and the validation losses that decided
# the ranking. Every run, timed ones included, writes its checkpoints again.

import os

from evidence import load
from evidence.views import Code, Lines, codes, figures, table
from evidence.views.files import checkpoint_keys

runs = load("checkpointing")
result = runs.headline
result.executed()

# %%
# ### Which epochs were kept
#
# The validation loss of every epoch, with the epochs whose checkpoint files are left in the
# plain program's folder circled (the run's checks compare the other folders' file names with
# it). The three implementations' curves lie on top of each other.

folder = result.value("pytorch", "checkpoints")
top_k = sorted(entry["keys"]["epoch"]["value"] for name, entry in folder.items() if name != "last.ckpt")
fig, (ax,) = figures.panels(1, width=7)
for kind, losses in result.values("history.val_loss").items():
    figures.overlay(ax, kind, range(len(losses)), losses)
    if kind == "pytorch":
        ax.scatter(top_k, [losses[e] for e in top_k], s=250, facecolors="none", edgecolors="red",
                   linewidths=2, zorder=5, label=f"kept (top {len(top_k)})")
figures.finish(ax, xlabel="epoch (from 0, as in the file names)", ylabel="validation loss")
fig.suptitle("checkpointing: validation loss per epoch and the checkpoints kept")
fig.tight_layout()

# %%
# The files left in each folder, the file each program names as its best, and the epoch inside
# each `last.ckpt`, as read back from the file:

result.per_implementation({
    "files kept": lambda impl: codes(impl["kept_files"]),
    "best": lambda impl: Code(os.path.basename(impl["best_model_path"])),
    "epoch inside last.ckpt": 'checkpoints["last.ckpt"].keys.epoch.value',
})

# %%
# ### What `last.ckpt` holds
#
# The plain and Fabric programs refresh `last.ckpt` after every epoch, as a loop written by
# hand does. Since Lightning 2.6.0, `ModelCheckpoint(save_last=True)` writes it only when it
# has saved a top-*k* checkpoint in the same step, so when the final epochs do not enter the
# top *k*, Lightning's `last.ckpt` holds an older epoch. The expected outcome, declared in
# the topic's `runs.toml`:

runs.verdicts("plain_last_is_final", "fabric_last_as_plain", "lightning_last_is_earlier")

# %%
# ### What is inside a checkpoint
#
# Every top-level key of the best checkpoint (the same epoch in every implementation), read
# back with `torch.load(weights_only=True)`: its value, or for containers the number of tensors
# and their bytes. The plain and Fabric programs hold exactly what they were given; Lightning
# adds the rest.

best = os.path.basename(result.value("pytorch", "best_model_path"))
files = {kind: result.value(kind, "checkpoints")[best] for kind in result.kinds()}
checkpoint_keys(result, "checkpoints", best)

# %%
# The weights are the same tensors in every file; Lightning stores them under the attribute
# name of the network in the `LightningModule` (`model.0.weight` rather than `0.weight`):

plain = files["pytorch"]["keys"]["model"]["shapes"]
wrapped = files["lightning"]["keys"]["state_dict"]["shapes"]
table(["plain and Fabric key", "Lightning key", "shape"],
      [[Code(key), Code(other), str(shape)] for (key, shape), other in zip(plain.items(), wrapped)])

# %%
# What Lightning's extra entries hold, one level down:

extras = files["lightning"]["keys"]
table(["key", "holds"], [[Code(key), Lines(Code(sub) for sub in extras[key]["keys"])]
                         for key in ("loops", "callbacks", "hyper_parameters")])

# %%
# All that is written to disk again at every save; compared on the `last.ckpt` files:

runs.verdicts("lightning_file_is_larger")

# %%
# --8<-- "gallery/shared/costs.md"
#
# Every run writes and deletes checkpoint files, so disk speed is part of these numbers; the
# plain and Fabric programs write `last.ckpt` every epoch, Lightning only beside a new top-*k*
# file.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "`save_last=True` is not always the final epoch (since Lightning 2.6.0)"
#     Lightning 2.6.0 (pull request #21244, in the CHANGELOG as "Fixed `last.ckpt` being
#     created and not linked to another checkpoint") makes `ModelCheckpoint` write `last.ckpt`
#     only when it has saved another checkpoint in the same step, as its docstring had always
#     said ("saves a `last.ckpt` copy whenever a checkpoint file gets saved"). From 2.0 to 2.5
#     it wrote `last.ckpt` at every check, that is after every epoch here. When the final epoch
#     does not enter the top *k*, `last.ckpt` now holds an older epoch (the checks above).
#     To keep the final state as well, add a second `ModelCheckpoint(dirpath=...,
#     filename="latest")` without a monitor (it keeps one file, rewritten every epoch) or
#     call `trainer.save_checkpoint(path)` after `fit`; the tests check the first.
#
# !!! note "Epochs in file names start at 0"
#     `filename="{epoch:02d}"` formats `trainer.current_epoch`, which counts from zero; the
#     plain programs name their files the same way.
#
# !!! note "Ties and strictness"
#     A new score replaces the worst kept one only if it is strictly lower (`torch.lt`); a tie
#     keeps the older file. A `NaN` score is stored as `+inf`, so it never ranks as best.
#
# !!! warning "Absolute paths inside the file"
#     Lightning's callback state stores `dirpath`, `best_model_path` and the paths of the kept
#     files as absolute paths, and `checkpoint.best_model_path` is absolute too (the table
#     above shows only the file name). Moving the folder does not break loading the weights,
#     but a resumed run will look for (and try to delete) files at the old paths.
#
# ??? info "Loading back, and `weights_only`"
#     `Classifier.load_from_checkpoint(path)` rebuilds the module by calling `__init__` with
#     the values `self.save_hyperparameters()` recorded, then loads the weights. It hands
#     its `weights_only` argument (default `None`) down to `torch.load`, so torch decides:
#     since torch 2.6, `weights_only=True` for a local file, the restricted unpickler that
#     accepts tensors and plain values (numbers, strings, lists, dicts) only. That is the
#     behaviour since Lightning 2.6.0; Lightning 2.4 and 2.5 passed `weights_only=False`.
#     Every file the three programs write holds only such values (the site read each one back
#     with `torch.load(path, weights_only=True)` for the tables above). The plain program
#     passes `weights_only=True` itself, so it does not depend on the torch version;
#     `fabric.load` also leaves the default to torch.

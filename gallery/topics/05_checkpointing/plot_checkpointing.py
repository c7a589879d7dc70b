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
the loop counters, each callback's state and the hyperparameters (the table below lists it all).
**Fabric** keeps your ranking code; `fabric.save` / `fabric.load` turn the model and optimizer
into state dicts and back (and would gather sharded states on several devices).

All three programs follow Lightning's rules exactly, so that they keep the same files: a
checkpoint enters the top *k* only if its loss is strictly lower than the worst one kept, and
`last.ckpt` is refreshed only when a top-*k* file was written (see the pitfalls).
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
# Ten epochs, the best three checkpoints kept. Each program ran once with its log captured,
# then under a memory probe, then three timed rounds (every run writes its checkpoints again).

from evidence import load
from evidence.views.topics import checkpointing as views

result = load("checkpointing").headline
result.stamp()

# %%
# ### What each program printed

result.logs()

# %%
# ### Which epochs were kept
#
# The validation loss of every epoch, with the epochs whose checkpoints survived marked. The
# three implementations' curves lie on top of each other.

views.kept_figure(result)

# %%
# The files left in each folder at the end, the epochs they hold and the file the best score
# points to, as each program returned them (names relative to its checkpoint folder):

views.kept_table(result)

# %%
# ### Same files, same best model
#
# The headline check loads each program's best checkpoint into a fresh network and compares
# its predictions on the validation set; the kept epochs, the file names and the final weights
# are compared as well.

result.parity()

# %%
# ### What is inside a checkpoint
#
# Every top-level key of `last.ckpt`, as each program described it after reading the file
# back: the type, and for containers the number of tensors and their bytes. The plain and
# Fabric programs hold exactly what they were given; Lightning adds the rest.

views.contents_table(result)

# %%
# The weights themselves are the same 210 numbers (840 bytes) in every file; Lightning stores
# them under the attribute name of the network in the `LightningModule` (`model.0.weight`
# rather than `0.weight`). The model's tensors, as recorded:

views.weights_table(result)

# %%
# What Lightning's extra entries hold, one level down:

views.lightning_extras_table(result)

# %%
# ### Time and memory
#
# Every run writes and deletes checkpoint files, so disk speed is part of these numbers.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "`save_last=True` is not the final epoch"
#     Since Lightning 2.x, `last.ckpt` is written only when the callback saves some other
#     checkpoint in the same epoch. Here the final epoch did not enter the top 3, so
#     `last.ckpt` holds an earlier one (the "epoch inside last.ckpt" column above; the tests
#     check that this is the most recent epoch that entered the top k, and the plain programs
#     copy the rule). To always have
#     the final state, add a second `ModelCheckpoint()` without a monitor (it keeps the latest
#     epoch) or call `trainer.save_checkpoint(...)` after `fit`.
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
#     files as absolute paths. Moving the folder does not break loading the weights, but a
#     resumed run will look for (and try to delete) files at the old paths. The programs here
#     return names relative to their folder.
#
# ??? info "Loading back"
#     `Classifier.load_from_checkpoint(path)` needs `self.save_hyperparameters()` in
#     `__init__` to rebuild the module; `weights_only` loading is not used because the file
#     holds more than tensors. The plain program loads with `torch.load(..., weights_only=True)`:
#     its checkpoints hold only tensors, numbers and dicts.

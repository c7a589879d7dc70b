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

Each program is written the way a user of its style writes it: the plain and Fabric programs
rank the epochs by hand (a checkpoint enters the top *k* if its loss is strictly lower than the
worst one kept, as in Lightning) and write `last.ckpt` after every epoch; the Lightning program
configures `ModelCheckpoint`. The kept files, their epochs and the best model's predictions
must come out the same, and are compared below; `last.ckpt` does not, and the page shows which
epoch each one holds.
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
# !!! note "Defaults the Lightning program changes"
#     Only `logger=False`: the default logger would write a `lightning_logs/` folder the reader
#     did not ask for. Checkpointing, the sanity-check validation (`num_sanity_val_steps=2`) and
#     the rest stay at their defaults; the progress bar and the model summary are on when the
#     program runs from the command line and off in the quiet, timed runs
#     (`enable_progress_bar=verbose`, `enable_model_summary=verbose`).
#
# ## Executed in this build
#
# Each program ran once with its log captured, then under a memory probe, then in timed rounds
# (every run writes its checkpoints again).

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
# The files left in each folder at the end, the epochs they hold, the file the best score
# points to, and the epoch inside each `last.ckpt`, as each program read it back (names
# relative to its checkpoint folder):

views.kept_table(result)

# %%
# ### Same top-k files, same best model
#
# The headline check loads each program's best checkpoint into a fresh network and compares
# its predictions on the validation set; the kept epochs, the file names, the final weights and
# the validation losses that decided the ranking are compared as well. `last.ckpt` is not
# compared: the programs differ there on purpose.

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
# ### What `last.ckpt` holds
#
# The plain and Fabric programs refresh `last.ckpt` after every epoch, as a loop written by
# hand does; Lightning's `ModelCheckpoint(save_last=True)` follows its own rule, which changed
# in Lightning 2.6.0. In this build:

views.last_ckpt_finding(result)

# %%
# ### What is inside a checkpoint
#
# Every top-level key of the best checkpoint (the same epoch in every implementation), as each
# program described it after reading the file back: the type, and for containers the number of
# tensors and their bytes. The plain and Fabric programs hold exactly what they were given;
# Lightning adds the rest.

views.contents_table(result)

# %%
# The weights themselves are the same tensors in every file; Lightning stores them under the
# attribute name of the network in the `LightningModule` (`model.0.weight` rather than
# `0.weight`). The model's tensors, as recorded:

views.weights_table(result)

# %%
# What Lightning's extra entries hold, one level down:

views.lightning_extras_table(result)

# %%
# ### Time and memory
#
# Every run writes and deletes checkpoint files, so disk speed is part of these numbers. The
# plain and Fabric programs write `last.ckpt` every epoch, Lightning only when a top-k file is
# written: that is part of the difference too.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "`save_last=True` is not always the final epoch (since Lightning 2.6.0)"
#     Lightning 2.6.0 (pull request #21244, in the CHANGELOG as "Fixed `last.ckpt` being
#     created and not linked to another checkpoint") makes `ModelCheckpoint` write `last.ckpt`
#     only when it has saved another checkpoint in the same step, as its docstring had always
#     said ("saves a `last.ckpt` copy whenever a checkpoint file gets saved"). From 2.0 to 2.5
#     it wrote `last.ckpt` at every check, that is after every epoch here. When the final epoch
#     does not enter the top *k*, `last.ckpt` now holds an older epoch (the finding above).
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
#     files as absolute paths. Moving the folder does not break loading the weights, but a
#     resumed run will look for (and try to delete) files at the old paths. The programs here
#     return names relative to their folder.
#
# ??? info "Loading back, and `weights_only`"
#     `Classifier.load_from_checkpoint(path)` rebuilds the module by calling `__init__` with
#     the values `self.save_hyperparameters("lr")` recorded, then loads the weights. It hands
#     its `weights_only` argument (default `None`) down to `torch.load`, so torch decides:
#     since torch 2.6, `weights_only=True` for a local file, the restricted unpickler that
#     accepts tensors and plain values (numbers, strings, lists, dicts) only. That is the
#     behaviour since Lightning 2.6.0; Lightning 2.4 and 2.5 passed `weights_only=False`.
#     Every file the three programs write holds only such values (the tables above), so each
#     loads with `torch.load(path, weights_only=True)`: the tests load every one of them that
#     way. The plain program passes `weights_only=True` itself, so it does not depend on the
#     torch version; `fabric.load` also leaves the default to torch.

"""
# Training by steps

Large trainings are counted in optimizer steps, not epochs: train for `max_steps`, validate every
so many steps, save a checkpoint every so many steps, and, when the job is stopped (a cluster's
time limit, a crash), resume from the last checkpoint, which usually lies in the middle of an
epoch. The question is whether the resumed run is the run that would have happened without the
interruption, and what that takes.

The model and data are the minimal loop's (a two-layer classifier on synthetic data, SGD with
momentum 0.9 at rate 0.1), with 200 training samples in batches of 16: 13 batches per epoch, the
last of 8. The training batches are shuffled by a `SubsetRandomSampler` with its own seeded
`torch.Generator`, which draws one permutation per epoch. The model has no dropout, so the order
of the batches is the only randomness during training
([Resuming an interrupted run](../06_resuming/plot_resuming.md) covers the random number
generators).

**What Lightning takes off your hands:** `Trainer(max_steps=...)` counts optimizer steps and stops
there, in the middle of an epoch if need be; `val_check_interval=n` with
`check_val_every_n_epoch=None` validates every n training batches across epoch boundaries;
`ModelCheckpoint(every_n_train_steps=n)` saves every n optimizer steps; and `fit(ckpt_path=...)`
restores the weights, the optimizer, the step and epoch counters and the position within the
epoch, and calls `load_state_dict` on a training loader that has one. **What it does not do:** a
`torch.utils.data.DataLoader` has no state, so nothing tells the resumed run which batches of the
interrupted epoch are left or in which order; the Lightning program therefore gives its training
loader `state_dict` / `load_state_dict` (`ResumableLoader`, a `DataLoader` subclass). The plain
and Fabric loops save the same two things in their own checkpoint dictionaries: the loader
generator's state when the epoch started, and the number of batches done.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). Each `run()` trains `--max-steps`
# optimizer steps, validating every 5 and saving `step=<n>.ckpt` every 10 into `--ckpt-dir`
# (cleared of `.ckpt` files first). With `--stop-at n` (by default 20) the training stops at
# step n, as a job at its time limit would, and a fresh start, set up from scratch as a new
# process would be, resumes from `step=<n>.ckpt`; `--stop-at 0` trains without a break.
# `--epochs` adds an upper bound in epochs (Lightning's `max_epochs`), off by default.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# Two runs: `resume_mid_epoch`, stopped at step 20 (batch 7 of the 13 of epoch 1, counting
# epochs from 0) and resumed to step 30 (the one below), and `uninterrupted`, the same 30 steps
# without a break. Lightning logs where it restored from (`Restored all states from the
# checkpoint ...`).

from evidence import load
from evidence.programs import LABELS
from evidence.views import figures

runs = load("step_training")
result = runs.headline
result.executed()

# %%
# ### Resumed against uninterrupted
#
# Each program's final weights against those of the same program without a break, and the
# validation losses the plain and Fabric loops kept:

runs.verdicts("resumed_as_uninterrupted", "plain_validations_as_uninterrupted", "fabric_validations_as_plain",
              "validated_every_5_steps")

# %%
# The validation losses against the optimizer step, resumed (from the dotted line on) over the
# run without a break. The Lightning program keeps no list of them: it logs `val_loss` for its
# progress bar, and its weights, compared above, carry the comparison.

stop = result.params["stop_at"]
whole = runs["uninterrupted"].value("pytorch", "history")
fig, (ax,) = figures.panels(1, width=7.5)
ax.plot(whole["val_step"], whole["val_loss"], color="#222222", linewidth=4, alpha=0.25, label="without a break")
for kind in ("pytorch", "fabric"):
    kept = result.value(kind, "history")
    figures.overlay(ax, kind, kept["val_step"], kept["val_loss"], label=f"{LABELS[kind]}, stopped and resumed")
ax.axvline(stop, color="#999999", linestyle=":", linewidth=1)
figures.finish(ax, xlabel=f"optimizer step (dotted: stopped and resumed at step {stop})", ylabel="validation loss")
fig.suptitle("step training: validation loss of the resumed runs over the uninterrupted one")
fig.tight_layout()

# %%
# ### Where the checkpoint was taken
#
# The checkpoint files each program left, and what its checkpoint of step 20 records about the
# position inside the epoch (read back from the file):

result.per_implementation({"checkpoint files": "files", "epoch in step=20.ckpt": "at_step_20.epoch"})

# %%

runs.verdicts("checkpoint_in_epoch_1", "plain_checkpoint_position", "lightning_checkpoint_position",
              "lightning_saves_the_loader_state")

# %%
# --8<-- "gallery/shared/costs.md"
#
# Each timed run is two trainings (20 steps, then the resumed 10), with a checkpoint written every
# 10 steps and one read back.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "A mid-epoch checkpoint needs the loader's position"
#     A `torch.utils.data.DataLoader` has no `state_dict`: resumed from a checkpoint taken inside an
#     epoch, Lightning 2.6.6 warns `You're resuming from a checkpoint that ended before the epoch
#     ended and your dataloader is not resumable` (a `PossibleUserWarning`,
#     `pytorch_lightning/loops/training_epoch_loop.py`, lines 222–230) and trains on: the resumed
#     epoch takes its remaining batches from a new pass over a freshly seeded generator, that is,
#     the first batches of the first epoch's order, and every later epoch is one permutation
#     behind (the tests record the batches). Since Lightning 2.2.0 the `Trainer` saves the state of
#     a training loader that has `state_dict` / `load_state_dict` in the checkpoint and restores it
#     before the first batch (#19361), and it no longer warns for such a loader since #19475 (first
#     released in 2.3.0). [#18780](https://github.com/Lightning-AI/pytorch-lightning/issues/18780)
#     argues that resuming inside an epoch is normal for long trainings; with a loader that saves
#     its position, as here, it is also exact. See also
#     [#17543](https://github.com/Lightning-AI/pytorch-lightning/issues/17543).
#
# !!! warning "What the loader's state has to hold"
#     The position alone is not enough: the order of the interrupted epoch came from the shuffling
#     generator's state *when that epoch began*. `ResumableLoader` saves that state and the number of
#     batches it has handed out, and on resume draws the same permutation again and skips the
#     batches already trained on; the plain and Fabric loops do the same with
#     `itertools.islice(train_loader, position, None)`. Skipping this way still loads the skipped
#     batches (cheap for a tensor dataset, not for images decoded from disk); a sampler that can
#     start at an index avoids that. Lightning iterates a sized loader without fetching ahead, so
#     the count the loader keeps is the count of batches trained on (`loops/fetchers.py`,
#     `_PrefetchDataFetcher.__iter__`: no pre-fetching when the length is known).
#
# !!! tip "A ready-made resumable loader: torchdata's `StatefulDataLoader`"
#     `torchdata.stateful_dataloader.StatefulDataLoader` (torchdata 0.8.0 and later, a separate
#     package: `pip install torchdata`) is a drop-in replacement for `DataLoader` with `state_dict`
#     / `load_state_dict`, so the `Trainer` saves and restores it as it does `ResumableLoader`. Its
#     state holds the number of batches yielded and the state of the sampler where the sampler has
#     one: with `shuffle=True` it uses its own `RandomSampler`, whose state is the generator's
#     state when the epoch's iterator was created and the number of indices handed out, what
#     `ResumableLoader` keeps by hand. A sampler of your own without `state_dict` (such as the
#     `SubsetRandomSampler` here) is only fast-forwarded by that number of batches, drawing its
#     order again from the generator as the new process finds it, so it needs a state of its own.
#     It also carries the state of a dataset that has one, across worker processes
#     (`num_workers > 0`). The programs here do not use it, to need nothing beyond torch
#     (`torchdata/stateful_dataloader/` in the torchdata repository: `stateful_dataloader.py`,
#     `sampler.py`).
#
# !!! warning "An integer `val_check_interval` counts within the epoch by default"
#     With the default `check_val_every_n_epoch=1`, `val_check_interval=5` validates after batch 5,
#     10, ... *of each epoch* (`loops/training_epoch_loop.py`, line 559: `self.batch_idx`), not every
#     5 steps of the run, and no longer at the end of the epoch; an interval longer than the epoch
#     raises `ValueError` (`loops/fit_loop.py`, lines 295–305). `check_val_every_n_epoch=None` counts
#     batches over the whole run (`self.total_batch_idx`); intervals longer than an epoch are
#     accepted that way since Lightning 1.7.0 (#11993). The tests run both.
#
# !!! note "Steps are optimizer steps, intervals are batches"
#     `max_steps` and `ModelCheckpoint(every_n_train_steps=...)` count optimizer steps
#     (`trainer.global_step`); `val_check_interval` counts training batches. They agree here, one
#     batch per step; with `accumulate_grad_batches=2`, `val_check_interval=4` validates every second
#     optimizer step (the tests run it). A plain loop that counts one thing for all three avoids the
#     question.
#
# !!! note "Resuming into the folder of the checkpoints"
#     `ModelCheckpoint` warns `Checkpoint directory ... exists and is not empty` when `fit` starts
#     with files in its folder, which a resumed run always does (it continues the first run's
#     folder). The Lightning program silences that one message around `fit`. With `max_steps`
#     given and `max_epochs` left unset, Lightning sets no epoch limit (`max_epochs=-1`,
#     `pytorch_lightning/loops/utilities.py`, line 80).
#
# ??? info "What else a resumed run needs"
#     Here the weights, the optimizer (SGD's momentum buffers) and the step counter, plus the loader's
#     state. A learning-rate scheduler's state, the random number generators of dropout or data
#     augmentation, and the state of callbacks (early stopping, the best checkpoint so far) come on
#     top; [Resuming an interrupted run](../06_resuming/plot_resuming.md) shows why each one is
#     needed.

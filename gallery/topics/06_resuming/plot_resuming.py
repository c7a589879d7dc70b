"""
# Resuming an interrupted run

Train, keeping a checkpoint of the last epoch and one of the best, as a job that may be killed
does; stop partway; start over as a new process would (seed, data, model and optimizer set up
from scratch) and resume from the last checkpoint. The resumed run must end with **bitwise** the
same weights as a run without a break, and should train only the epochs the interrupted job had
not finished. The set-up is chosen so that forgetting any piece of state would show: the network
has a `Dropout(0.3)` layer (masks come from the global torch RNG), the training `DataLoader`
shuffles with its own `torch.Generator`, Adam keeps moment estimates, and a `StepLR` halves the
learning rate every two epochs (the run below is interrupted between two epochs that share a
learning rate, so the scheduler's count has to come back too).

**What Lightning takes off your hands:** `ModelCheckpoint(save_last=True)` writes `last.ckpt`
beside the best checkpoint, and `trainer.fit(model, ckpt_path="last")` finds it in the callback's
`dirpath` and restores the weights, the optimizer and scheduler states, the epoch and step
counters (the loop state) and every callback's state. **What it does not restore:** the global
RNG states (torch, CUDA, NumPy, Python) and the state of a plain `DataLoader` or its generator; a
`torch.utils.data.DataLoader` has no `state_dict`, so Lightning has nothing to save. Without
them the resumed epochs draw other dropout masks and another batch order. The Lightning program
adds a small `Callback` whose `state_dict` / `load_state_dict` carry both, which Lightning then
saves and restores with the rest. **Fabric** saves and loads one dictionary, `state`:
`fabric.save` writes it to `path`, turning the model, optimizer and scheduler into state dicts,
and `fabric.load(path, state)` restores them in place and returns what it could not place (here
the RNG states).

**What `last.ckpt` holds changed in Lightning 2.6.0.** The callback here keeps the best epoch by
validation accuracy (`monitor="val_acc", mode="max"`), the usual "best and last" set-up. Since
2.6.0, `ModelCheckpoint` writes `last.ckpt` only at a check where it also wrote a top-*k*
checkpoint (pull request #21244), so epochs that do not improve the monitored value leave it
behind; resumed from it, the new job trains those epochs again. The plain and Fabric programs
write `last.ckpt` after every epoch and copy it to `best.ckpt` when the accuracy improves.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each `run()`
# trains `--epochs` epochs into `--ckpt-dir` (emptied first); with `--stop-after N` the first
# job ends after `N` epochs, leaving its checkpoint files as a job killed at that point would
# (its last act is the checkpoint of epoch `N - 1`), then a second job sets everything up again
# from scratch and resumes from `last.ckpt`; `--stop-after 0` trains without a break.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# This page has two runs: `resume`, 8 epochs interrupted after 5 and resumed (the one below),
# and `uninterrupted`, the same 8 epochs without a break. The logs number epochs from zero, as
# Lightning's `current_epoch` does; Lightning's says where it restored from (`Restoring states
# from the checkpoint path at ...`).

from evidence import load

runs = load("resuming")
result = runs.headline
result.executed()

# %%
# ### Resumed against uninterrupted
#
# Each program's final weights and, for plain PyTorch and Fabric, the per-epoch values their
# loops kept, against the same implementation's run without a break. The expected outcome is
# declared in the topic's `runs.toml`:

runs.verdicts("weights_as_uninterrupted", "plain_losses_as_uninterrupted", "fabric_losses_as_uninterrupted")

# %%
# ### How far `last.ckpt` lags, and what the resumed job trains again
#
# In the uninterrupted run the validation accuracy stops improving after epoch 3 (from 0): the
# later epochs reach the same value, and an equal value is not an improvement (`ModelCheckpoint`
# compares strictly, as the plain loops do), so no later epoch writes a top-*k* checkpoint. What
# each `last.ckpt` held when that run ended, read back from the files:

uninterrupted = runs["uninterrupted"]
uninterrupted.per_implementation({
    "files left": "files",
    "epoch in last.ckpt": "saved.epoch",
    "optimizer steps in last.ckpt": "saved.global_step",
    "validation accuracy per epoch": lambda impl: ", ".join(f"{a:.4f}" for a in impl["history"]["val_acc"]),
}, caption="The uninterrupted run: 8 epochs of 13 optimizer steps each.")

# %%
runs.verdicts("plain_last_is_the_last_epoch", "fabric_last_as_plain", "lightning_last_is_older")

# %%
# The interrupted job therefore left Lightning a `last.ckpt` of epoch 3, and `fit(ckpt_path="last")`
# resumed from there: the second job trained epoch 4 again before going on. The optimizer steps
# are counted by PyTorch's own optimizer hook in both jobs together; the epochs logged are what
# Lightning's `self.log` and the plain loops recorded, one entry per training epoch:

result.per_implementation({
    "optimizer steps, both jobs": "steps",
    "epochs logged, both jobs": lambda impl: len(impl["history"]["val_loss"]),
    "epoch in the final last.ckpt": "saved.epoch",
    "files left": "files",
})

# %%
runs.verdicts("lightning_trains_an_epoch_twice", "lightning_logs_epoch_4_twice", "fabric_steps_as_plain",
              "checkpoint_counts_steps")

# %%
# The retrained epoch costs time, not correctness: the older checkpoint holds everything needed
# to replay the same epoch (the RNG states included, through the `RandomState` callback), so the
# weights end bitwise as without a break (the first check above). Lightning's second job writes
# `last.ckpt` once more when its training ends (`on_train_end`, since Lightning 2.5.3, when that
# callback has written nothing itself), with the epoch counter already past the last epoch (8).
#
# The curves of the interrupted-and-resumed run, in the order they were logged: Lightning's has
# one point more, epoch 4 logged by both jobs, so from there on it runs one step to the right.

result.plot("history.val_loss", "history.val_acc", xlabel="epoch logged (from 1)", ylabel="",
            title="resuming: validation loss and accuracy of the interrupted and resumed run, every implementation")

# %%
# ### Where it applies
#
# The version matrix runs the headline run (the one above) on one release of each Lightning 2.x
# minor version and evaluates there the checks that read it alone: where
# `lightning_trains_an_epoch_twice` and `lightning_logs_epoch_4_twice` come out otherwise, that
# Lightning kept `last.ckpt` up to date and resumed with epoch 5. In Lightning's history, the
# condition in `on_train_epoch_end` and `on_validation_end` (`_last_global_step_saved ==
# trainer.global_step`) arrived with 2.6.0 (CHANGELOG: "Fixed `last.ckpt` being created and not
# linked to another checkpoint", #21244) and is unchanged in 2.6.6; 2.5.x and earlier call
# `_save_last_checkpoint` at every check. The row, from the matrix's shard files (a shard
# recorded before these programs changed says so):

from evidence.views.matrix import topic_row

topic_row("resuming")

# %%
# ### What the checkpoint records
#
# The top-level keys of each program's final `last.ckpt`. The plain and Fabric programs put the
# RNG states under `rng`; Lightning keeps them where the `RandomState` callback's `state_dict`
# goes, under `callbacks`, beside `ModelCheckpoint`'s own state and the loop state it restores
# by itself.

result.per_implementation({
    "checkpoint keys": lambda impl: ", ".join(impl["saved"]),
    "callback states": lambda impl: ", ".join(impl["saved"].get("callbacks", {})) or None,
    "learning rate per epoch": lambda impl: ", ".join(f"{lr:g}" for lr in impl["history"].get("lr", [])) or None,
})

# %%
# The learning rates, and why the scheduler's state matters here (those the plain program kept;
# the others' weights, compared above, could not match without the same):

runs.verdicts("interrupted_within_one_rate", "rate_halves_after")

# %%
# --8<-- "gallery/shared/costs.md"
#
# Each timed run is two jobs (5 and 3 epochs, Lightning's second one 4), writing a checkpoint
# every epoch (Lightning: only when the accuracy improves, and at the end of its second job)
# and reading one back once.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "Since Lightning 2.6.0, `last.ckpt` is not always the last epoch"
#     With a `monitor`, `ModelCheckpoint(save_last=True)` writes `last.ckpt` only when the
#     monitored value enters the top *k* (or, without a monitor, only at the epochs
#     `every_n_epochs` selects), and `fit(ckpt_path="last")` then resumes from an older epoch
#     and trains the epochs after it again; from 2.0 to 2.5 it was written at every check. To
#     resume from the last epoch on 2.6, leave `save_last` off the monitored callback and add a
#     second one, `ModelCheckpoint(dirpath=same_dir, filename="last")`: without a monitor it
#     keeps one file, rewritten every epoch, which `ckpt_path="last"` finds by its name (the
#     tests check that the resumed job then starts with epoch 5). [Keeping the best checkpoints](../05_checkpointing/plot_checkpointing.md)
#     shows the same lag on a curve that goes up and down.
#
# !!! warning "Lightning does not restore random number generators"
#     A Lightning checkpoint holds no RNG state. After `seed_everything(seed)` in the new
#     process, dropout draws the masks of the first epoch again. Either accept that the resumed
#     run is a different (equally valid) run, or save the states yourself, as the `RandomState`
#     callback here does (the tests take each state away in turn, in every implementation, and
#     see the resumed weights differ).
#
# !!! warning "The DataLoader's shuffling generator"
#     A shuffling `DataLoader` with its own `generator=` draws a new permutation from it every
#     epoch. A fresh loader in the resumed process starts that generator from the seed, so
#     the first resumed epoch would get epoch 0's order. Save `generator.get_state()` and
#     restore it with `set_state()` (all three programs do); `torchdata`'s `StatefulDataLoader`
#     is another way, and Lightning (since 2.2.0) saves the state of a training loader that has
#     a `state_dict`.
#
# !!! note "Resuming into the same folder warns"
#     `ModelCheckpoint` warns "Checkpoint directory ... exists and is not empty" at the start of
#     every `fit` whose `dirpath` holds files, which resuming with `ckpt_path="last"` always
#     does: the Lightning program silences that one message around `fit`.
#
# !!! note "Order of restoring in plain PyTorch"
#     Create the optimizer and scheduler first, then load their states: constructing a
#     scheduler changes the optimizer's learning rate, which the loaded state then overwrites.
#     Restore the RNG states last, after everything that might draw random numbers (building
#     the model does).
#
# !!! note "Where the checkpoint is written"
#     `ModelCheckpoint` saves at the end of each training epoch (with the default validation
#     interval), after validation and before the epoch's scheduler step; a resumed `fit` finishes
#     that epoch's bookkeeping and goes on with the next. A checkpoint written in the middle of
#     an epoch resumes mid-epoch, which a plain `DataLoader` cannot replay exactly
#     ([training by steps](../25_step_training/plot_step_training.md) shows how).

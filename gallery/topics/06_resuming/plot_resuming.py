"""
# Resuming an interrupted run

Train, stop partway and save a checkpoint, start over as a new process would (seed, data, model
and optimizer set up from scratch) and resume from the checkpoint. The resumed run must end with
**bitwise** the same weights as a run without a break. The set-up is chosen so that forgetting
any piece of state would show: the network has a `Dropout(0.3)` layer (masks come from the
global torch RNG), the training `DataLoader` shuffles with its own `torch.Generator`, Adam keeps
moment estimates, and a `StepLR` halves the learning rate every two epochs (the run below is
interrupted between two epochs that share a learning rate, so the scheduler's count has to come
back too).

**What Lightning takes off your hands:** `trainer.fit(model, ckpt_path=...)` restores the
weights, the optimizer and scheduler states, the epoch and step counters (the loop state) and
every callback's state. **What it does not restore:** the global RNG states (torch, CUDA,
NumPy, Python) and the state of a plain `DataLoader` or its generator; a
`torch.utils.data.DataLoader` has no `state_dict`, so Lightning has nothing to save. Without
them the resumed epochs draw other dropout masks and another batch order. The Lightning program
adds a small `Callback` whose `state_dict` / `load_state_dict` carry both, which Lightning then
saves and restores with the rest. **Fabric** saves and loads one dictionary, `state`:
`fabric.save` writes it to `path`, turning the model, optimizer and scheduler into state dicts,
and `fabric.load(path, state)` restores them in place and returns what it could not place (here
the RNG states).
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each `run()`
# trains `--epochs` epochs; with `--stop-after N` it stops after `N` of them (ending its
# training and saving the checkpoint, as an interrupted job's last save would), then sets
# everything up again from scratch and resumes from that checkpoint; `--stop-after 0` trains
# without a break. Every training ends by saving the checkpoint, so the file left at the end
# holds the final state either way.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# This page has two runs: `resume`, interrupted after 3 of 6 epochs and resumed (the one
# below), and `uninterrupted`, the same 6 epochs without a break. The logs number epochs from
# zero, as Lightning's `current_epoch` does.

from evidence import load

runs = load("resuming")
result = runs.headline
result.executed()

# %%
# ### Resumed against uninterrupted
#
# Each program's final weights and the per-epoch losses it kept (Lightning's: what `self.log`
# logged), against the same implementation's run without a break. The expected outcome is
# declared in the topic's `runs.toml`:

runs.verdicts("weights_as_uninterrupted", "losses_as_uninterrupted")

# %%
# The curves of the interrupted-and-resumed run: epochs 1 to 3 (counted from one here) come
# from the training that was interrupted, epochs 4 to 6 from the fresh start that resumed it.

result.plot("history.train_loss", "history.val_loss",
            title="resuming: losses of the interrupted and resumed run, every implementation overlaid")

# %%
# ### What the checkpoint records
#
# The top-level keys of each program's checkpoint. The plain and Fabric programs put the RNG
# states under `rng`; Lightning keeps them where the `RandomState` callback's `state_dict`
# goes, under `callbacks`, beside the loop state it restores by itself.

result.per_implementation({
    "checkpoint keys": lambda impl: ", ".join(impl["saved"]),
    "callback states": lambda impl: ", ".join(impl["saved"].get("callbacks", {})) or None,
    "learning rate per epoch": lambda impl: ", ".join(f"{lr:g}" for lr in impl["history"].get("lr", [])) or None,
})

# %%
# The counters, and why the scheduler's state matters here (the learning rates are those the
# plain program kept; the others' weights, compared above, could not match without the same):

runs.verdicts("checkpoint_counts_epochs", "checkpoint_counts_steps", "interrupted_within_one_rate",
              "rate_halves_after")

# %%
# --8<-- "gallery/shared/costs.md"
#
# Each timed run is two trainings (3 and 3 epochs), one checkpoint written after each and read
# back once.

result.costs()

# %%
# ## Pitfalls
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
# !!! note "Order of restoring in plain PyTorch"
#     Create the optimizer and scheduler first, then load their states: constructing a
#     scheduler changes the optimizer's learning rate, which the loaded state then overwrites.
#     Restore the RNG states last, after everything that might draw random numbers (building
#     the model does).
#
# !!! note "Where the checkpoint is written"
#     The Lightning program ends `fit` at `max_epochs=stop_after` and calls
#     `trainer.save_checkpoint(path, weights_only=False)` after it (`weights_only=False`: the
#     full state, optimizer and scheduler included, which resuming needs; left unset, Lightning
#     logs that it defaults to `False`); resuming with the full `max_epochs` continues with the
#     next epoch. A checkpoint written in the middle of an epoch resumes mid-epoch, which a
#     plain `DataLoader` cannot replay exactly ([training by steps](../25_step_training/plot_step_training.md)
#     shows how).

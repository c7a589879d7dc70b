"""
# Resuming an interrupted run

Train for six epochs without a break; then train again, stop after epoch 2, save a checkpoint,
start over as a new process would (seed, data, model and optimizer set up from scratch) and
resume from the checkpoint. The resumed run must end with **bitwise** the same weights as the
uninterrupted one. The set-up is chosen so that forgetting any piece of state shows: the
network has a `Dropout(0.3)` layer (masks come from the global torch RNG), the training
`DataLoader` shuffles with its own `torch.Generator`, Adam keeps moment estimates, and a
`StepLR` halves the learning rate every two epochs, so the interruption falls in the middle of
a step.

**What Lightning takes off your hands:** `trainer.fit(model, ckpt_path=...)` restores the
weights, the optimizer and scheduler states, the epoch and step counters (the loop state) and
every callback's state. **What it does not restore:** the global RNG states (torch, CUDA,
NumPy, Python) and the state of a plain `DataLoader` or its generator; a `torch.utils.data.DataLoader`
has no `state_dict`, so Lightning has nothing to save. Without them the resumed run draws
different dropout masks and a different batch order. The Lightning program adds a small
`Callback` whose `state_dict` / `load_state_dict` carry both, which Lightning then saves and
restores with the rest. **Fabric** saves and loads one dictionary, `state`: `fabric.save` writes
it to `path`, turning the model, optimizer and scheduler into state dicts, and
`fabric.load(path, state)` restores them in place and returns what it could not place (here the RNG states).
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. `--forget rng`
# (or `loader`, `optimizer`, `scheduler`) resumes without that piece of state, to see the
# difference it makes.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Each `run()` trains three times: uninterrupted, interrupted after epoch 2, and resumed. Each
# program ran once with its log captured, then under a memory probe, then three timed rounds.

from evidence import load
from evidence.views.topics import resuming as views

runs = load("resuming")
result = runs.headline
result.stamp()

# %%
# ### What each program printed
#
# The resumed epochs 3 to 5 print the same losses and learning rates as epochs 3 to 5 of the
# uninterrupted run.

result.logs()

# %%
# ### Resumed against uninterrupted, in each implementation
#
# Each program compares its own resumed weights with its own uninterrupted weights.

views.resume_table(result)

# %%
# ### Loss curves, overlaid
#
# The resumed runs' curves (epochs 0 to 2 come from the checkpoint, 3 to 5 from the resumed
# training) drawn over each other.

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did the implementations compute the same thing?
#
# The resumed final weights of Lightning and Fabric against plain PyTorch, and each program's
# resume difference (zero everywhere when every state came back).

result.parity()

# %%
# ### What each forgotten state costs
#
# Each program run again four times, each time resuming without one piece of state
# (`--forget <name>`), against its own uninterrupted run. The last column compares the broken
# Lightning and Fabric runs with the broken plain one: they break in exactly the same way.

views.forgotten_table(runs)

# %%
# ### Time and memory
#
# Each run is three trainings (twelve epochs in all) plus writing and reading one checkpoint.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "Lightning does not restore random number generators"
#     A Lightning checkpoint holds no RNG state. After `seed_everything(seed)` in the new
#     process, dropout draws the masks of epoch 0 again. Either accept that the resumed run is
#     a different (equally valid) run, or save the states yourself, as the `RandomState`
#     callback here does.
#
# !!! warning "The DataLoader's shuffling generator"
#     A shuffling `DataLoader` with its own `generator=` draws a new permutation from it every
#     epoch. A fresh loader in the resumed process starts that generator from the seed, so
#     epoch 3 would get epoch 0's order. Save `generator.get_state()` and restore it with
#     `set_state()` (all three programs do); `torchdata`'s `StatefulDataLoader` is another way,
#     and Lightning saves its state when the loader has one.
#
# !!! note "Order of restoring in plain PyTorch"
#     Create the optimizer and scheduler first, then load their states: constructing a
#     scheduler changes the optimizer's learning rate, which the loaded state then overwrites.
#     Restore the RNG states last, after everything that might draw random numbers (building
#     the model does).
#
# !!! note "Where the checkpoint is written"
#     The Lightning program stops with `max_epochs=3` and calls `trainer.save_checkpoint`
#     after `fit`; resuming with `max_epochs=6` continues at epoch 3. A checkpoint written in
#     the middle of an epoch resumes mid-epoch, which a plain `DataLoader` cannot replay exactly.

"""
# Resuming an interrupted run

Train without a break; then train again, stop partway and save a checkpoint, start over as a
new process would (seed, data, model and optimizer set up from scratch) and resume from the
checkpoint. The resumed run must end with **bitwise** the same weights as the uninterrupted
one. The set-up is chosen so that forgetting any piece of state shows: the network has a
`Dropout(0.3)` layer (masks come from the global torch RNG), the training `DataLoader`
shuffles with its own `torch.Generator`, Adam keeps moment estimates, and a `StepLR` halves
the learning rate every two epochs (the run below is interrupted between two epochs that share
a learning rate, so the scheduler's count has to come back too).

**What Lightning takes off your hands:** `trainer.fit(model, ckpt_path=...)` restores the
weights, the optimizer and scheduler states, the epoch and step counters (the loop state) and
every callback's state. **What it does not restore:** the global RNG states (torch, CUDA,
NumPy, Python) and the state of a plain `DataLoader` or its generator; a `torch.utils.data.DataLoader`
has no `state_dict`, so Lightning has nothing to save (the tests check the checkpoint). Without them the resumed run draws
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
# difference it makes; `run()`, which trains three times and compares, and the `--forget`
# option are the page's experiment and are not counted as lines of code.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: the default logger would write a
#     `lightning_logs/` folder and the default `ModelCheckpoint` a `checkpoints/` folder, files
#     the reader did not ask for (the program writes its one checkpoint itself, with
#     `trainer.save_checkpoint`). The sanity-check validation and the rest stay at their
#     defaults; the progress bar and the model summary are on when the program runs from the
#     command line and off in the quiet, timed runs.
#
# ## Executed in this build

from evidence import load
from evidence.views.topics import resuming as views

runs = load("resuming")
result = runs.headline
result.stamp()

# %%
# What each program did, in this run's numbers:

views.plan(result)

# %%
# ### What each program printed

result.logs()

# %%
# ### Resumed against uninterrupted, in each implementation
#
# Each program compares its own resumed weights with its own uninterrupted weights.

views.resume_table(result)

# %%
# ### Loss curves, overlaid

views.curves_note(result)

# %%

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did the implementations compute the same thing?
#
# The resumed final weights of Lightning and Fabric against plain PyTorch, and each program's
# resume difference (zero everywhere when every state came back).

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
# ### What each forgotten state costs
#
# Each program run again four times, each time resuming without one piece of state
# (`--forget <name>`), against its own uninterrupted run. The last column compares the broken
# Lightning and Fabric runs with the broken plain one (*identical*: they break in exactly the
# same way).

views.forgotten_table(runs)

# %%
# ### Time and memory
#
# Each run is three trainings (the epochs counted above) plus writing and reading one
# checkpoint.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "Lightning does not restore random number generators"
#     A Lightning checkpoint holds no RNG state. After `seed_everything(seed)` in the new
#     process, dropout draws the masks of the first epoch again. Either accept that the resumed run is
#     a different (equally valid) run, or save the states yourself, as the `RandomState`
#     callback here does.
#
# !!! warning "The DataLoader's shuffling generator"
#     A shuffling `DataLoader` with its own `generator=` draws a new permutation from it every
#     epoch. A fresh loader in the resumed process starts that generator from the seed, so
#     the first resumed epoch would get epoch 0's order. Save `generator.get_state()` and restore it with
#     `set_state()` (all three programs do); `torchdata`'s `StatefulDataLoader` is another way,
#     and Lightning (since 2.2.0) saves the state of a training loader that has a `state_dict`.
#
# !!! note "Order of restoring in plain PyTorch"
#     Create the optimizer and scheduler first, then load their states: constructing a
#     scheduler changes the optimizer's learning rate, which the loaded state then overwrites.
#     Restore the RNG states last, after everything that might draw random numbers (building
#     the model does).
#
# !!! note "Where the checkpoint is written"
#     The Lightning program simulates the interruption by ending `fit` at
#     `max_epochs=stop_after` and calling `trainer.save_checkpoint(path, weights_only=False)`
#     after it (`weights_only=False`: the full state, optimizer and scheduler included, which
#     resuming needs); resuming with the full `max_epochs` continues with the next epoch.
#     A checkpoint written in the middle of an epoch resumes mid-epoch, which a plain
#     `DataLoader` cannot replay exactly.

"""
# Learning-rate schedules

The same classifier as in the minimal loop (two linear layers, cross-entropy, SGD with
momentum 0.9), trained under two kinds of schedule:

- **per epoch**: `StepLR(step_size=2, gamma=0.5)` halves the rate every two epochs, so the
  scheduler is stepped once at the end of each epoch;
- **per step**: `OneCycleLR(max_lr=0.1)` warms the rate up and anneals it again over the whole
  run, so the scheduler is stepped after every optimizer step.

Each program records the learning rate used at every optimizer step. The plain loop and the
Fabric loop append `optimizer.param_groups[0]["lr"]` to a list by hand; the Lightning program
lets `LearningRateMonitor` log it through a `CSVLogger` and reads the logged values back from
the CSV file.

**What Lightning takes off your hands here:** calling `scheduler.step()` in the right place.
`configure_optimizers` returns the scheduler together with its `"interval"` (`"epoch"` or
`"step"`) and the `Trainer` steps it at that rhythm; `trainer.estimated_stepping_batches` gives
OneCycleLR its total number of steps without counting batches yourself; and
`LearningRateMonitor` logs the rate without any code in the training step. **Fabric** does not
touch schedulers: you create and step them yourself, exactly as in plain PyTorch.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). `--schedule step` or
# `--schedule onecycle` picks the schedule.
#
# <!-- implementations -->
#
# ## Executed in this build: the per-step schedule (OneCycleLR)
#
# Each program ran once with its log captured, then under a memory probe, then timed rounds
# alternating the order of the programs. Same seed, same data, same device and one torch
# thread for all of them. This is the page's headline run: the overview lists it.

from evidence import load
from evidence.views.topics import lr_schedules as views

runs = load("lr_schedules")
result = runs.headline
result.stamp()

# %%
# ### What each program printed

result.logs()

# %%
# ### Loss curves, overlaid
#
# Three lines on each panel; where they coincide, the implementations computed the same numbers.

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did they compute the same thing?
#
# The headline check is the learning-rate trace: one value per optimizer step. For Lightning it
# is what `LearningRateMonitor` wrote to the CSV log; for PyTorch and Fabric it is the list the
# loop kept by hand. The final weights and the validation losses are compared as well: a rate
# that was logged correctly but applied at another step would show up there.

result.parity()

# %%
# ### Time and memory
#
# The Lightning program also writes a CSV log (the monitor needs a logger); the plain and
# Fabric loops only append to a list. On a model this small that difference is visible.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Executed in this build: the per-epoch schedule (StepLR)
#
# The same three programs with `--schedule step` (logged run and memory run only, no timed
# rounds). Lightning gets `"interval": "epoch"`, the plain and Fabric loops call
# `scheduler.step()` after the last batch of each epoch.

step = runs["step"]
step.parity()

# %%
# ### The learning-rate traces, overlaid
#
# One point per optimizer step. The step schedule is flat within an epoch and drops at every
# second epoch boundary; the one-cycle schedule changes at every step.

views.traces_figure(step, result)

# %%
# ### LearningRateMonitor against the manual record
#
# The number of values `LearningRateMonitor` logged, and their largest difference from the
# rates the plain and the Fabric loop recorded by hand at the same steps.

views.monitor_table(step, result)

# %%
# ## Pitfalls
#
# !!! warning "A per-step scheduler has to say so"
#     Returning a scheduler from `configure_optimizers`, bare or in a dictionary without
#     `"interval"`, means `"interval": "epoch"`: Lightning steps it once per epoch. For
#     OneCycleLR, built for `total_steps` optimizer steps, the rate then advances one position
#     per epoch: it stays in the early part of its warm-up and never anneals. Lightning 2.x
#     warns (`A OneCycleLR scheduler is using 'interval': 'epoch'`); the test suite of this
#     topic runs that mistake and sees the trace and the weights move away from the plain loop's.
#
# !!! note "Where the plain loop steps the scheduler"
#     `scheduler.step()` goes after `optimizer.step()`. Called before it, PyTorch warns and the
#     first value of the schedule is skipped. In the plain loop a per-epoch scheduler is
#     stepped after the batch loop, not inside it.
#
# !!! note "`LearningRateMonitor` needs a logger, and logs on the logger's rhythm"
#     With `logger=False` the callback refuses to start. It writes the rate when the logger
#     writes, which is every `log_every_n_steps` optimizer steps (default 50): with the default,
#     a short run logs only a handful of values and the trace has gaps. Here
#     `log_every_n_steps=1` and `logging_interval="step"` give one value per step.
#
# ??? info "Counting steps for OneCycleLR"
#     `total_steps` must be at least the number of `scheduler.step()` calls, or OneCycleLR
#     raises on the call after the last. The plain and Fabric loops compute
#     `epochs * len(train_loader)`; Lightning's `trainer.estimated_stepping_batches` does the
#     same count (and takes gradient accumulation and `limit_train_batches` into account).

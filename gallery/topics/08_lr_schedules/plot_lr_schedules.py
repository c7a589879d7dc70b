"""
# Learning-rate schedules

The same classifier as in the minimal loop (two linear layers, cross-entropy, SGD with
momentum 0.9), trained under two kinds of schedule:

- **per epoch**: `StepLR(step_size=2, gamma=0.5)` halves the rate every two epochs, so the
  scheduler is stepped once at the end of each epoch;
- **per step**: `OneCycleLR(max_lr=0.1)` warms the rate up and anneals it again over the whole
  run, so the scheduler is stepped after every optimizer step.

Each program keeps the rate each epoch starts with, as a user who wants to see the schedule
does: the plain and Fabric loops read `scheduler.get_last_lr()[0]` at the top of the epoch and
print it, the Lightning program logs the same value with `self.log("lr", ...)` in
`on_train_epoch_start` and shows it in the progress bar. The rate of every single optimizer
step needs no code in any program: the build reads it from the optimizer at each step while it
records the calls of the headline run.

**What Lightning takes off your hands here:** calling `scheduler.step()` in the right place.
`configure_optimizers` returns the scheduler together with its `"interval"` (`"epoch"` or
`"step"`) and the `Trainer` steps it at that rhythm; `trainer.estimated_stepping_batches` gives
OneCycleLR its total number of steps without counting batches yourself. **Fabric** does not
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
# --8<-- "gallery/shared/executed.md"

from evidence import load
from evidence.views import figures

runs = load("lr_schedules")
result = runs.headline
result.executed()

# %%
# ### Loss curves, overlaid
#
# Three lines on each panel; where they coincide, the implementations computed the same numbers.

result.plot("history.train_loss", "history.val_loss")

# %%
# ### The rate at every optimizer step, and at the start of every epoch
#
# Left, the one-cycle run: the rate each implementation's optimizer held when it stepped, read
# by the recording of the calls (one point per optimizer step). It climbs from `max_lr / 25` to
# `max_lr` over the first 30 % of the steps (OneCycleLR's default `pct_start`) and anneals to
# almost zero. Right, the step schedule's run (`--schedule step`, logged run only, no timed
# rounds): the rate each epoch started with, as each program kept it. Lightning gets
# `"interval": "epoch"` there, the plain and Fabric loops call `scheduler.step()` after the last
# batch of each epoch.

step = runs["step"]
fig, (per_step, per_epoch) = figures.panels(2)
for kind in result.kinds():
    rates = [event["lr"] for event in result.value(kind, "trace.events") if event["op"] == "optimizer.step"]
    figures.overlay(per_step, kind, range(1, len(rates) + 1), rates, marker="")
    kept = step.value(kind, "history.lr")
    figures.overlay(per_epoch, kind, range(1, len(kept) + 1), kept, drawstyle="steps-post")
figures.finish(per_step, title="OneCycleLR, stepped per step", xlabel="optimizer step", ylabel="learning rate")
figures.finish(per_epoch, title="StepLR, stepped per epoch", xlabel="epoch", ylabel="learning rate at its start")
fig.suptitle("Learning rate under both schedules, three implementations overlaid")
fig.tight_layout()

# %%
# What the schedules were declared to do, checked against what every implementation kept, and the
# step schedule's run against plain PyTorch's (the final weights, then the validation losses and
# rates of every epoch):

runs.verdicts("step_halves_every_two_epochs", "onecycle_starts_at_max_lr_over_25")

# %%

step.parity()

# %%
# --8<-- "gallery/shared/costs.md"

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "A per-step scheduler has to say so"
#     Returning a scheduler from `configure_optimizers` without `"interval"` means
#     `"interval": "epoch"`: Lightning steps it once per epoch. For OneCycleLR, built for
#     `total_steps` optimizer steps, the rate then advances one position per epoch: it stays in the
#     early part of its warm-up and never anneals. Lightning (since 1.5.0) warns `A OneCycleLR
#     scheduler is using 'interval': 'epoch'` only when the scheduler comes in its own dictionary
#     (`"lr_scheduler": {"scheduler": scheduler}`); returned bare, in a list
#     (`return [optimizer], [scheduler]`, the form the docstring of
#     `Trainer.estimated_stepping_batches` shows with OneCycleLR) or as
#     `{"optimizer": optimizer, "lr_scheduler": scheduler}`, it is stepped per epoch without a
#     warning. The tests of this topic run all three mistakes and see the rates and the weights move
#     away from the plain loop's. [When the scheduler steps](../22_scheduler_interval/plot_scheduler_interval.md)
#     runs the default interval side by side with the per-step one.
#
# !!! note "Where the plain loop steps the scheduler"
#     `scheduler.step()` goes after `optimizer.step()`. Called before it, PyTorch warns and the
#     first value of the schedule is skipped. In the plain loop a per-epoch scheduler is
#     stepped after the batch loop, not inside it.
#
# !!! note "`LearningRateMonitor` needs a logger, and logs on the logger's rhythm"
#     Lightning's callback for watching the rate, `LearningRateMonitor`, is not used here because
#     it needs a logger, which writes files: with `logger=False` it stops the run at the start of
#     training (`MisconfigurationException`: "Cannot use `LearningRateMonitor` callback with
#     `Trainer` that has no logger"). It writes the rate when the logger writes, every
#     `log_every_n_steps` optimizer steps (default 50): with the default, a short run logs only a
#     handful of values, and Lightning warns that the number of training batches is smaller than
#     the logging interval. With `logging_interval="step"` and `log_every_n_steps=1` it logs the
#     rate of every optimizer step, the same values the recording above shows; the tests pin all
#     three behaviours.
#
# ??? info "Counting steps for OneCycleLR"
#     `total_steps` must be at least the number of `scheduler.step()` calls, or OneCycleLR
#     raises on the call after the last. The plain and Fabric loops compute
#     `epochs * len(train_loader)`; Lightning's `trainer.estimated_stepping_batches` does the
#     same count (and takes gradient accumulation and `limit_train_batches` into account).

"""
# When the scheduler steps

A learning-rate schedule is written in some unit: `StepLR(step_size=2)` counts epochs, a
warm-up over 20 steps or `OneCycleLR(total_steps=...)` counts optimizer steps. Whoever calls
`scheduler.step()` decides which unit it really is. In a plain loop that is where you put the
call. In Lightning, `configure_optimizers` returns the scheduler and the `Trainer` calls
`step()`: after every optimizer step when the scheduler's dictionary says `"interval": "step"`,
and **once per epoch otherwise**, which is the default. A per-step schedule returned the default
way is then stepped per epoch, and nothing warns (for a `LambdaLR`, as here).

The programs train the minimal loop's classifier (SGD with momentum 0.9, peak rate 0.1) under
one per-step schedule, written as a `LambdaLR`: a linear warm-up over the first 20 optimizer
steps, then a linear decay to zero at the last step of the run. Each program keeps the rate each
epoch starts with and prints it (Lightning logs it in `on_train_epoch_start`). They run twice:
with the scheduler stepped after every optimizer step (the headline), and with it stepped once
per epoch, which is what Lightning does when the scheduler comes back without an interval (the
variant). The plain and Fabric loops place `scheduler.step()` accordingly, so each run compares
like with like.

**What Lightning takes off your hands:** the `scheduler.step()` call and its place, chosen by
`"interval"` (and `"frequency"`); and `trainer.estimated_stepping_batches`, the number of
optimizer steps the run will take, for building a per-step schedule. **Fabric** does not touch
schedulers: as in plain PyTorch, your loop steps them. [Learning-rate
schedules](../08_lr_schedules/plot_lr_schedules.md) shows a correctly configured `OneCycleLR` and
when `LearningRateMonitor` logs; this page is about the default interval.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). `--interval step` or
# `--interval epoch` picks where the scheduler is stepped; in the Lightning program, `epoch`
# returns the scheduler without an interval, the default way.
#
# <!-- implementations -->
#
# ## Executed in this build: stepped after every optimizer step
#
# --8<-- "gallery/shared/executed.md"
#
# The line `Loading train_dataloader to estimate number of stepping batches` in Lightning's log is
# `trainer.estimated_stepping_batches`, called in `configure_optimizers`, looking at the training
# loader before the fit loop does.

from evidence import load
from evidence.programs import LABELS
from evidence.views import figures

runs = load("scheduler_interval")
result = runs.headline
result.executed()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ## Executed in this build: the default interval
#
# The same three programs with `--interval epoch` (logged run only, no timed rounds). Lightning's
# `configure_optimizers` returns `{"optimizer": optimizer, "lr_scheduler": scheduler}`; the plain
# and Fabric loops call `scheduler.step()` after the last batch of each epoch, which is where
# Lightning's default puts it. The three agree with each other: the default is not a Lightning
# bug, it is a per-epoch schedule.

runs["default_interval"].parity()

# %%
# ### The learning rate, both ways
#
# The lines are the headline run: the rate each implementation's optimizer held at every optimizer
# step, read by the recording of its calls. It climbs to its peak in 20 steps and decays to zero
# by the end. The markers are the default-interval run: the rate each of its epochs started with,
# as the programs kept it. Stepped per epoch, the schedule advances one of its steps per epoch, and
# the run ends long before the warm-up does.

default, epochs = runs["default_interval"], result.params["epochs"]
fig, (ax,) = figures.panels(1, width=8)
for kind in result.kinds():
    stepped = [e["lr"] for e in result.value(kind, "trace.events") if e["op"] == "optimizer.step"]
    per_epoch = len(stepped) // epochs
    figures.overlay(ax, kind, range(1, len(stepped) + 1), stepped, marker="", label=f"{LABELS[kind]}, per step")
    starts = range(1, len(stepped) + 1, per_epoch)
    figures.overlay(ax, kind, starts, default.value(kind, "history.lr"), linestyle="none",
                    label=f"{LABELS[kind]}, per epoch (epoch starts)")
for boundary in range(per_epoch, len(stepped), per_epoch):
    ax.axvline(boundary + 0.5, color="#999999", linewidth=0.6)
figures.finish(ax, xlabel="optimizer step (grey lines: epoch ends)", ylabel="learning rate")
fig.suptitle("One warm-up schedule, stepped per step (lines) and per epoch (markers)")
fig.tight_layout()

# %%
# What the build checked across the two runs: the rates each run's epochs started with against
# the schedule's own values, the optimizer steps, and where the validation loss ends.

runs.verdicts("per_step_follows_the_schedule", "per_epoch_advances_one_step_per_epoch", "same_optimizer_steps",
              "per_epoch_ends_worse")

# %%
# --8<-- "gallery/shared/costs.md"

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "No interval means once per epoch"
#     Lightning builds an `LRSchedulerConfig` for every scheduler `configure_optimizers` returns,
#     and its `interval` field defaults to `"epoch"` (`pytorch_lightning/utilities/types.py`,
#     line 86, Lightning 2.6.6). A scheduler returned bare (`return [optimizer], [scheduler]`) or as
#     `{"optimizer": optimizer, "lr_scheduler": scheduler}` gets that default
#     (`core/optimizer.py`, lines 290 and 300); the training loop steps epoch-interval schedulers
#     once, after the last training batch of the epoch (`loops/training_epoch_loop.py`, lines
#     360–362). Step-based scheduling, the `"interval": "step"` key, exists since Lightning 0.7.0
#     (#941 in the CHANGELOG), and `"epoch"` is still the default in 2.6.6. This is the question of
#     [#5631](https://github.com/Lightning-AI/pytorch-lightning/issues/5631) ("lr_scheduler step()
#     called after every epoch instead of after every batch"), answered there by pointing at the
#     `"interval"` key. The tests of this topic run both forms (dictionary and bare list) and see
#     the rate move only at epoch ends.
#
# !!! warning "Nothing warns, except for OneCycleLR"
#     Lightning warns about a per-epoch interval only when the scheduler is a `OneCycleLR` in its
#     own dictionary (`"lr_scheduler": {"scheduler": scheduler}`: `A OneCycleLR scheduler is using
#     'interval': 'epoch'`, since 1.5.0; returned bare, not even then; the tests run both). A warm-up
#     written with `LambdaLR`, `LinearLR` or a library's warm-up scheduler is stepped per epoch
#     without a word, as the variant above ran: the run trains, the loss goes down, only slower.
#     The tests check that the default run raises no warning at all.
#
# !!! warning "The key goes inside the scheduler's dictionary"
#     `{"optimizer": optimizer, "lr_scheduler": scheduler, "interval": "step"}` puts `"interval"`
#     beside the scheduler, where Lightning does not look for it: it warns `Found unsupported keys in
#     the optimizer configuration: {'interval'}` (a `RuntimeWarning`) and steps the scheduler per
#     epoch. The key belongs in `{"scheduler": scheduler, "interval": "step"}` (the tests run the
#     misplaced version).
#
# !!! note "If the rate still looks flat per step"
#     [#20436](https://github.com/Lightning-AI/pytorch-lightning/issues/20436) reports no change of
#     the rate within an epoch although `"interval": "step"` was set, with OneCycleLR sized by
#     `trainer.estimated_stepping_batches`. The headline run above is that configuration with a
#     warm-up instead of OneCycleLR, and its rate changes at every optimizer step. Check how the rate
#     is read before suspecting the scheduler: `LearningRateMonitor` writes it only when the logger
#     writes, every `log_every_n_steps` (default 50) optimizer steps, so a short epoch can show one
#     value or none (see [Learning-rate schedules](../08_lr_schedules/plot_lr_schedules.md)); reading
#     `optimizer.param_groups[0]["lr"]` at every step, as the recording here does, shows every step.
#
# ??? info "Steps are optimizer steps"
#     With `"interval": "step"` the `Trainer` skips the scheduler while gradients accumulate
#     (`loops/training_epoch_loop.py`, line 458): the schedule counts optimizer steps, as
#     `trainer.estimated_stepping_batches` does. A plain loop that accumulates has to put
#     `scheduler.step()` next to `optimizer.step()`, inside the same condition.
#
# ??? info "Where the plain loop steps"
#     `scheduler.step()` comes after `optimizer.step()` (PyTorch warns when it comes first, and the
#     first value of the schedule is skipped). For a per-step schedule the call is inside the batch
#     loop; for a per-epoch one, after it. The same schedule object serves both: only the place of
#     the call says which unit its numbers are in.

"""
# Learning-rate schedules

The same classifier as in the minimal loop (two linear layers, cross-entropy, SGD with
momentum 0.9), trained under two kinds of schedule:

- **per epoch**: `StepLR(step_size=2, gamma=0.5)` halves the rate every two epochs, so the
  scheduler is stepped once at the end of each epoch;
- **per step**: `OneCycleLR(max_lr=0.1)` warms the rate up and anneals it again over the whole
  run, so the scheduler is stepped after every optimizer step.

Each program records the learning rate used at every optimizer step the same way:
`optimizer.param_groups[0]["lr"]` appended to a list just before the step (in the Lightning
program, inside `training_step`, which runs before the Trainer steps the optimizer and the
scheduler). Lightning's own tool for watching the rate, `LearningRateMonitor`, needs a logger and
writes files; it runs only in two extra, untimed runs further down, where the page compares what it
logged with the loops' records. The timed runs do the same work on every side.

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
# `--schedule onecycle` picks the schedule. The blocks marked `# region: not counted` record
# what `run()` returns (the losses, the rate at every step), hold the command line, or, in the
# Lightning program, add the monitor for the page's check; they are left out of the line counts.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: by default the `Trainer` writes logs and a
#     checkpoint under `lightning_logs/` in the working folder, files the reader did not ask for.
#     The progress bar and the model summary follow the quiet switch
#     (`enable_progress_bar=verbose`, `enable_model_summary=verbose`): on when the program runs from
#     the command line, off in the timed runs, where no program prints. Everything else is
#     Lightning's default, including the sanity check of two validation batches before training,
#     which leaves the numbers unchanged (the parity below). With `lr_monitor=True` (the monitor
#     runs only) the logger is a `CSVLogger` in a temporary folder, deleted afterwards, with
#     `log_every_n_steps=1`.
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
# The headline check is the learning-rate trace: one value per optimizer step, read from the
# optimizer just before each step. The final weights and the validation losses are compared as
# well: a rate that was recorded correctly but applied at another step would show up there.

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
# ### Time and memory
#
# In these timed runs every program records the rate by appending to a list; none has a logger
# or a monitor.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Executed in this build: the per-epoch schedule (StepLR)
#
# The same three programs with `--schedule step` (logged run and memory run only, no timed
# rounds). Lightning gets `"interval": "epoch"`, the plain and Fabric loops call
# `scheduler.step()` after the last batch of each epoch. In this run the Lightning program also
# has `LearningRateMonitor` (next sections).

step = runs["step"]
step.parity()

# %%
# ### The learning-rate traces, overlaid
#
# One point per optimizer step. The step schedule is flat within an epoch and drops at every
# second epoch boundary; the one-cycle schedule changes at every step.

views.traces_figure(step, result)

# %%
# ### What LearningRateMonitor logs
#
# Two untimed runs, the step schedule above and the one-cycle schedule again, in which the
# Lightning program adds `LearningRateMonitor(logging_interval="step")` and a `CSVLogger`
# (`lr_monitor=True`) and reads the logged column back from the CSV file. The table counts the
# values the monitor logged and gives their largest difference from the rates each program
# recorded at the same steps.

views.monitor_table(step, runs["onecycle_monitor"])

# %%
# ## Pitfalls
#
# !!! warning "A per-step scheduler has to say so"
#     Returning a scheduler from `configure_optimizers`, bare or in a dictionary without
#     `"interval"`, means `"interval": "epoch"`: Lightning steps it once per epoch. For
#     OneCycleLR, built for `total_steps` optimizer steps, the rate then advances one position
#     per epoch: it stays in the early part of its warm-up and never anneals. Lightning (since
#     1.5.0) warns `A OneCycleLR scheduler is using 'interval': 'epoch'` only for the dictionary
#     form; returned bare (`return [optimizer], [scheduler]`, the form the docstring of
#     `Trainer.estimated_stepping_batches` shows with OneCycleLR) it is stepped per epoch without a
#     warning. The tests of this topic run both mistakes and see the trace and the weights move
#     away from the plain loop's.
#
# !!! note "Where the plain loop steps the scheduler"
#     `scheduler.step()` goes after `optimizer.step()`. Called before it, PyTorch warns and the
#     first value of the schedule is skipped. In the plain loop a per-epoch scheduler is
#     stepped after the batch loop, not inside it.
#
# !!! note "`LearningRateMonitor` needs a logger, and logs on the logger's rhythm"
#     With `logger=False` the callback stops the run at the start of training
#     (`MisconfigurationException`: "Cannot use `LearningRateMonitor` callback with `Trainer` that
#     has no logger"). It writes the rate when the logger writes, every `log_every_n_steps`
#     optimizer steps (default 50): with the default, a short run logs only a handful of values
#     and the trace has gaps, and Lightning warns that the number of training batches is smaller
#     than the logging interval. The monitor runs here use `log_every_n_steps=1` and
#     `logging_interval="step"` for one value per step; the tests pin both behaviours. A plain
#     loop that wants the same record appends `optimizer.param_groups[0]["lr"]` to a list or a
#     log file, as the programs here do.
#
# ??? info "Counting steps for OneCycleLR"
#     `total_steps` must be at least the number of `scheduler.step()` calls, or OneCycleLR
#     raises on the call after the last. The plain and Fabric loops compute
#     `epochs * len(train_loader)`; Lightning's `trainer.estimated_stepping_batches` does the
#     same count (and takes gradient accumulation and `limit_train_batches` into account).

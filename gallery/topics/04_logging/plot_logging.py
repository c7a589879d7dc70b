"""
# Logging and experiment tracking

A training run is only as useful as what it leaves behind: the loss of every step, the
epoch averages, the validation curve, in files that a dashboard or a notebook can open later.
Here each program writes the same three metrics to **two formats at once**, a CSV file and a
TensorBoard event file. After each program's run the site opens both files from disk (the CSV
with Python's `csv` module, the event file with TensorBoard's own `EventAccumulator`), the same
way for every implementation: every curve and number on this page comes from those files, not
from the training loop's memory.

The metrics: `train_loss_step`, the loss of every optimizer step; `train_loss_epoch`, its
mean over the epoch **weighted by batch size** (400 training rows in batches of 64 leave a last
batch of 16); and `val_loss`, the validation loss after each epoch.

**What Lightning takes off your hands:** `self.log("train_loss", loss, on_step=True,
on_epoch=True)` in `training_step` produces both the per-step series and the weighted epoch
mean, names them with `_step` / `_epoch` suffixes, picks the step numbers, and sends everything
to every logger handed to the `Trainer` (`CSVLogger`, `TensorBoardLogger`), each in its own
`version_N` folder, flushed and closed at the end of `fit`. **Fabric** gives you the same
logger classes and `fabric.log` / `fabric.log_dict`; the averaging and the step numbers stay
yours, and so does calling `finalize` at the end. **By hand** it is a `SummaryWriter`
(`torch.utils.tensorboard`), a `csv.DictWriter`, and a few lines to pick the next free
`version_N` folder.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each writes into
# the folder given by `--log-dir` (by default `torch_logs/`, `lightning_logs/` or
# `fabric_logs/` in the current directory), a `csv/version_N/` and a `tensorboard/version_N/`
# folder per run.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# Here the values compared are those read back from the files: the per-step series of the CSV
# and of the event file (values and step numbers), then the epoch-level values of each format,
# then the final weights. The epoch-level values can differ in the last digits of a float32
# number: Lightning accumulates and divides its weighted means in float32 tensors, while the
# hand-written loops add the per-step Python floats (float64); TensorBoard stores every scalar
# as float32 in any case.

import re

from evidence import load
from evidence.programs import LABELS
from evidence.views import codes, figures

logged = load("logging")
result = logged.headline
result.executed()

# %%
# ### The files on disk
#
# Paths relative to each program's log folder, listed after its run. TensorBoard names its
# event files `events.out.tfevents.<unix time>.<host name>.<process id>.<counter>`; the part
# after `tfevents` is shortened here because it changes with every run. Lightning's
# `TensorBoardLogger` also writes an `hparams.yaml` (empty here: the module saved no
# hyperparameters).

result.per_implementation({"files written": lambda found: codes(
    [re.sub(r"tfevents\..*$", "tfevents.…", name) for name in found["files"]], sep=" · ")})

# %%
# ### Curves read back from the files
#
# Left: the per-step training loss as read from each program's CSV file and from its
# TensorBoard event file, all six series overlaid. Right: the epoch-level values, drawn at the
# step number they were logged with.

fig, (steps_ax, epochs_ax) = figures.panels(2, height=3.8)
for kind in result.kinds():
    for source, mark in (("csv", "o"), ("tensorboard", "x")):
        series = result.value(kind, source)
        figures.overlay(steps_ax, kind, series["train_loss_step"]["step"], series["train_loss_step"]["value"],
                        label=f"{LABELS[kind]} ({source})", marker=mark, markersize=4)
        for metric, shape in (("train_loss_epoch", "s"), ("val_loss", "^")):
            figures.overlay(epochs_ax, kind, series[metric]["step"], series[metric]["value"],
                            label=f"{LABELS[kind]} {metric} ({source})", marker=shape, markersize=5)
figures.finish(steps_ax, title="train_loss_step", xlabel="logged step", ylabel="loss")
figures.finish(epochs_ax, title="train_loss_epoch and val_loss", xlabel="logged step", ylabel="loss", legend=False)
epochs_ax.legend(fontsize=6, ncol=2)
fig.suptitle("logging: metrics read back from the CSV and TensorBoard files of every implementation")
fig.tight_layout()

# %%
# ### Step numbers, columns and tags
#
# Lightning numbers the per-step values from 0 (the number of optimizer steps taken before the
# step) and logs the epoch-level values at the step of the epoch's **last** batch; the
# hand-written and Fabric programs use the same convention so that the files line up. Lightning
# also adds an `epoch` column to its CSV and an `epoch` scalar to TensorBoard.

result.per_implementation({
    "steps of the epoch values": "csv.val_loss.step",
    "CSV columns": lambda found: codes(["step", *sorted(found["csv"])]),
    "TensorBoard scalar tags": lambda found: codes(found["tensorboard"]),
})

# %%

logged.verdicts("steps", "per_step_numbering", "epoch_values_at_last_step", "epoch_mean_with_val_loss",
                "lightning_epoch_scalar", "tensorboard_float32")

# %%
# ### The epoch mean is weighted by batch size
#
# The plain and Fabric programs compute `train_loss_epoch` as the batch-size weighted mean of
# the step losses (`total += value * len(x)`), and Lightning's logged value matches it to
# float32 precision (the `csv.train_loss_epoch` rows under *Did they compute the same thing?*
# above). The unweighted mean
# of the seven step values of an epoch differs from it by more than 1e-4, because the short last
# batch would count as much as a full one; the test suite recomputes both from each program's
# CSV file (`tests/test_logging/test_logging.py`).
#
# --8<-- "gallery/shared/costs.md"

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "`log_every_n_steps` defaults to 50"
#     A `Trainer` writes `on_step` values only every 50th step unless told otherwise, and warns
#     when an epoch has fewer batches than that. With seven steps per epoch the default would
#     leave the per-step series almost empty; the program passes `log_every_n_steps=1`. Epoch
#     level values are written regardless.
#
# !!! note "Names and numbering chosen for you"
#     With `on_step=True, on_epoch=True` the single name `train_loss` becomes two series,
#     `train_loss_step` and `train_loss_epoch`. Steps count from 0, and the epoch values are
#     logged at the step of the last batch of the epoch (6, 13, 20, ... here), not at a separate
#     epoch axis; the `epoch` column/scalar Lightning adds is how you map them back. A
#     hand-written loop that logs epoch values at `epoch` or at the next step will not line up
#     with Lightning's files.
#
# !!! note "Weighted by batch size, inferred from the batch"
#     The epoch mean weights each step by the batch size, which Lightning infers from the batch
#     (the first tensor's length here). For batches it cannot measure, pass
#     `self.log(..., batch_size=n)`. An unweighted mean over-counts the short last batch.
#
# !!! warning "Flushing and closing"
#     Nothing guarantees the files are complete until the writers are closed: a
#     `SummaryWriter` queues events and writes them every 10 events or 120 seconds (its
#     `max_queue` and `flush_secs`) and on `flush()` / `close()`, and the CSV loggers of
#     Lightning and Fabric keep rows in memory and write every `flush_logs_every_n_steps=100`
#     steps. The `Trainer` finalises its loggers at the end of `fit`; with Fabric call
#     `logger.finalize("success")` yourself, as the program does, before reading the files.
#
# !!! note "The sanity check logs nothing"
#     The sanity check (two validation batches before training) stays on: Lightning logs
#     nothing to the loggers while it runs, so the files hold only the validation after each
#     epoch, at the steps the checks above name.
#
# ??? info "One folder per run"
#     The loggers never overwrite: each run goes into the next free `version_N` folder under
#     `<save_dir>/<name>/`. The hand-written program does the same with a few lines, so
#     running it twice does not mix two runs in one file.

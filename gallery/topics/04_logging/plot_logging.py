"""
# Logging and experiment tracking

A training run is only as useful as what it leaves behind: the loss of every step, the
epoch averages, the validation curve, in files that a dashboard or a notebook can open later.
Here each program writes the same three metrics to **two formats at once**, a CSV file and a
TensorBoard event file, and then does what a reader would do afterwards: it opens both from
disk (the CSV with Python's `csv` module, the event file with TensorBoard's
`EventAccumulator`) and returns what it read. Every curve and number on this page comes from
those files, not from the training loop's memory.

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
(`torch.utils.tensorboard`), a `csv.writer`, and a few lines to pick the next free
`version_N` folder.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each writes into
# the folder given by `--log-dir` (by default `torch_logs/`, `lightning_logs/` or
# `fabric_logs/` in the current directory). Reading the files back, listing them and recording
# the batch sizes exist for this page: they sit between `# region: not counted` and
# `# endregion`, with the command line, and are left out of the line counts.
#
# <!-- implementations -->
#
# ## Executed in this build

from evidence import load
from evidence.views.topics import logging as views

result = load("logging").headline
views.run_summary(result)

# %%

result.stamp()

# %%
# ### What each program printed
#
# Lightning shows its model summary and its progress bar, which carries the logged values
# (`prog_bar=True`); its epoch lines come from the callback that records the batch sizes (not
# counted). Every program then lists the files it wrote.

result.logs()

# %%
# ### The files on disk
#
# Paths relative to the log folder, as listed after the run. TensorBoard names its event files
# `events.out.tfevents.<unix time>.<host name>.<process id>.<counter>`; the part after
# `tfevents` is shortened here because it changes with every run. Lightning's
# `TensorBoardLogger` also writes an `hparams.yaml` (empty here: the module saved no
# hyperparameters).

views.files_table(result)

# %%
# ### Curves read back from the files
#
# Left: the per-step training loss as read from each program's CSV file and from its
# TensorBoard event file, all six series overlaid. Right: the epoch-level values, drawn at the
# step number they were logged with.

views.curves(result)

# %%
# ### Did they log the same thing?
#
# Compared with the plain PyTorch files: the per-step series from the CSV and from the event
# file (values and step numbers), then all three metrics of each format, then the final
# weights. Per-step values are identical (the tests pin it). The epoch-level values can differ
# in the last digits of a float32 number, as the table shows: Lightning accumulates and divides
# its weighted means in float32 tensors, while the hand-written loops add the per-step Python
# floats (float64) for the training mean and divide the float32 validation sum in Python;
# TensorBoard stores every scalar as float32 in any case.

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
# ### The epoch mean is weighted by batch size
#
# Recomputed here from the per-step values each program **wrote to its CSV** and the batch
# sizes it saw: the batch-size weighted mean matches the logged `train_loss_epoch` of every
# implementation, Lightning's included; the plain mean of the step values does not, because the
# short last batch would count as much as a full one.

views.epoch_mean_table(result)

# %%
# ### Step numbers and columns
#
# Lightning numbers the per-step values from 0 (the number of optimizer steps taken before the
# step) and logs the epoch-level values at the step of the epoch's **last** batch; the
# hand-written and Fabric programs use the same convention so that the files line up. Lightning
# also adds an `epoch` column to its CSV and an `epoch` scalar to TensorBoard.

views.steps_table(result)

# %%
# ### Time and memory
#
# Writing and reading the files is part of every run, so these times include two small file
# writers and the read-back. Every program reads one Python number per step here (the value it
# writes to the files). The timed runs are quiet (`verbose=False`): no program prints, and the
# `Trainer` shows no progress bar or model summary; its sanity check is included.

result.timings()

# %%
# ### Lines of code

result.loc()

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
# !!! note "Defaults the Lightning program changes"
#     - `log_every_n_steps=1` (see above: the default changes what the files hold).
#     - `enable_checkpointing=False`: by default a checkpoint would be written into the first
#       logger's folder (`csv/version_N/checkpoints/`), a file this page is not about.
#     - `enable_progress_bar=verbose, enable_model_summary=verbose`: on from the command line,
#       off in the quiet timed runs.
#
#     The sanity check stays on: Lightning logs nothing to the loggers while it runs, so the
#     files hold only the validation after each epoch (the tests pin the step numbers).
#
# ??? info "One folder per run"
#     The loggers never overwrite: each run goes into the next free `version_N` folder under
#     `<save_dir>/<name>/`. The hand-written program does the same with a few lines, so
#     running it twice does not mix two runs in one file.

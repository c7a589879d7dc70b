"""
# Metrics that cannot be averaged per batch

A loss is a mean over samples, so the mean of the batches' losses (weighted by batch size) is
the loss of the whole set, and averaging it over ranks changes nothing. **F1** and **AUROC**
are not means. F1 is `2·TP / (2·TP + FP + FN)`, a ratio of counts over the whole set: the
average of per-batch F1 values is a different number, and a batch with few positives moves it
a lot. AUROC is the probability that a positive sample scores above a negative one, over
*every* pair of the set: a per-batch AUROC compares only pairs inside the batch. With the
validation set split over two processes, neither number can be averaged into shape; it has to
be computed from what both ranks saw:

- F1 from the **summed counts**: three numbers per rank, added with `all_reduce`;
- AUROC from **every score**: gathered from all ranks with `all_gather` (or approximated from
  a fixed grid of thresholds).

Here the labels are a noisy linear teacher's top 30 % (`make_data`), 640 training rows and 160
validation rows, split 80 / 80 between two `gloo` ranks on the CPU; the network is the minimal
loop's, trained for a few epochs with Adam at `lr=1e-2`. After every epoch each program computes
F1 (threshold 0.5 on the predicted probability of class 1) and AUROC in its own ways:

- **PyTorch**: by hand (the counts and the scores reduced as above), with torchmetrics objects
  (`BinaryF1Score`, `BinaryAUROC`: `update` on every batch, `compute()` once per epoch, which
  synchronises their states across ranks), and, for comparison, the per-batch values averaged
  over batches and ranks with `all_reduce`;
- **Lightning**: the torchmetrics objects passed to `self.log("val_f1", self.val_f1)`, so
  that the Trainer calls `compute()` and `reset()` at the end of the epoch; and the per-batch
  value logged with `self.log(..., sync_dist=True)`;
- **Fabric**: torchmetrics objects in your own loop, as in plain PyTorch, and the per-batch
  values averaged with `fabric.all_reduce`.

The reference: after every validation, each rank also runs the network once over the **whole**
validation set in its own process and computes both metrics with torchmetrics' functional
versions (not counted). Which methods give that number?

**How the processes start.** As on the [DDP page](../12_ddp/plot_ddp.md): each program's `run()`
starts two copies of its own file with the environment variables `torchrun` would set and reads
back what each rank saved. The launcher stands in for `torchrun` and is not counted.
"""

# %%
# ## The three programs
#
# The launcher (`launch`, `run`, `main`) is the same in all three files and not counted; the
# highlighted lines are the code that differs.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Each program ran its two-rank job once with the log captured, then once more under the memory
# probe. No timed rounds: a job's time is almost all process start-up and imports.

from evidence import load
from evidence.views.topics import metrics as views

result = load("metrics").headline
result.stamp()

# %%
# ### What each job printed
#
# Rank 0 prints one line per epoch with every value it computed; `true_f1` and `true_auroc` are
# the reference.

result.logs()

# %%
# ### Which methods give the whole-set number?
#
# Every way of computing, against the reference, over all epochs. The methods that reduce what
# the metric is made of (counts, scores, or the torchmetrics states that hold them) give the
# whole-set number; averaging per-batch values does not, whether the average is taken by hand,
# by `sync_dist=True` or by `fabric.all_reduce`.

views.approaches_table(result)

# %%
# The same, epoch by epoch, as the difference from the reference: the whole-set methods lie on
# zero, the per-batch averages (thin lines, crosses) off it, and not always on the same side.

views.metrics_figure(result)

# %%
# ### Did they compute the same thing?
#
# Rank 0's final weights and the per-epoch metrics of each job against the plain PyTorch job.
# The three jobs train identically (the same `DistributedSampler` order, as on the DDP page),
# so every method has a counterpart in the other programs: the whole-set methods agree with
# each other, and so do the per-batch averages, including Lightning's `sync_dist=True` with the
# plain `all_reduce` of batch-size-weighted sums. That is how Lightning reduces a logged tensor:
# it keeps the batch-size-weighted sum and the number of samples on each rank, and at the end
# of the epoch `sync_dist` averages both over the ranks and divides one by the other.

result.parity()

# %%
# ### What each program did, call by call
#
# The recorder listens inside the process that calls `run()`. Here that process only launches
# the ranks and reads back what they saved (the two `torch.load` calls below); the training
# and every metric computation happen in the rank processes, which it does not see. The parity
# ledger under the table above is empty for the same reason.

result.trace()

# %%
# ### What each rank validated on
#
# `DistributedSampler` deals the 160 validation rows out alternately, 80 to each rank, in
# batches of 32, 32 and 16. The last, smaller batch counts less in a batch-size-weighted
# average, and its F1 and AUROC rest on few samples.

views.shards_table(result)

# %%
# ### Time and memory
#
# The time is that of one whole job: starting two Python processes, importing torch,
# torchmetrics (and Lightning), joining the process group and training three small epochs.
# The memory column measures only the launching process.

result.timings()

# %%
# ### Lines of code
#
# The plain PyTorch program does more than the other two: it computes the metrics by hand
# (`f1_from_counts`, `auroc`, `gather` and the counting in the loop) **and** with torchmetrics.
# For torchmetrics in your own loop, compare Lightning with Fabric.

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "`sync_dist=True` does not make a per-batch metric a whole-set metric"
#     `sync_dist=True` reduces whatever tensor you logged: for a per-batch F1 it gives the
#     batch-size-weighted mean of the per-batch F1 values over both ranks, which is the number
#     in the `batch_f1` rows above, not the F1 of the set. Log a torchmetrics object instead
#     (it needs no `sync_dist`), or reduce the counts yourself. This is the question behind
#     [#7118](https://github.com/Lightning-AI/pytorch-lightning/issues/7118) (lower F1 with
#     DDP than on one GPU), [#2346](https://github.com/Lightning-AI/pytorch-lightning/issues/2346)
#     and [#3159](https://github.com/Lightning-AI/pytorch-lightning/issues/3159).
#
# !!! warning "Log the metric object, not what calling it returns"
#     `self.log("val_f1", self.val_f1)` hands the object to Lightning, which calls `compute()`
#     on the accumulated (and synchronised) state at the end of the epoch, then `reset()`.
#     `self.log("val_f1", self.val_f1(probs, y))` logs the value of **this batch** (a metric's
#     `forward` returns the batch's value), and Lightning averages those values over the
#     batches: a per-batch average again, even on one device. The tests run both on one
#     process; this is the question in
#     [torchmetrics #845](https://github.com/Lightning-AI/torchmetrics/issues/845) ("Different
#     F1 score with different batch_size").
#
# !!! warning "An uneven validation set is padded, silently"
#     `DistributedSampler` gives every rank the same number of samples; when the set does not
#     divide evenly it repeats samples from the start (161 rows on two ranks: 81 each, one row
#     twice). Those repeats enter every method above, the torchmetrics objects included.
#     Lightning adds a `DistributedSampler` to the validation loaders of `fit` (and so does
#     `fabric.setup_dataloaders`); it warns about the repeats only for `trainer.validate()`
#     and `trainer.test()` (`_resolve_sampler` in
#     `pytorch_lightning/trainer/connectors/data_connector.py`). Here the 160 rows split
#     evenly. For an exact number on an uneven set, evaluate it on one process, or drop the
#     padded duplicates before reducing.
#
# !!! note "AUROC keeps every score"
#     `BinaryAUROC()` (with `thresholds=None`, the default) stores every prediction and target
#     it is given and gathers all of them from every rank in `compute()`: memory and
#     communication grow with the validation set. `BinaryAUROC(thresholds=200)` keeps a
#     fixed-size count per threshold instead, and gives an approximation.
#
# !!! note "Defaults the Lightning program changes"
#     - `logger=False` and `enable_checkpointing=False`: files this program's reader did not
#       ask for (the DDP page shows who writes them).
#     - `enable_progress_bar=False` and `enable_model_summary=False`: the ranks' output goes to
#       log files that `run()` prints afterwards, and a progress bar redrawn into a file is
#       noise. Rank 0 prints one line per epoch instead (not counted).
#
#     The sanity check stays on: it updates the metric objects with two batches per rank, and
#     the Trainer resets them before training starts, so the first epoch's values are whole-set
#     values (the table above).
#
# ??? info "torchmetrics comes with Lightning"
#     `pytorch-lightning` depends on `torchmetrics`, so installing Lightning installs it; the
#     plain PyTorch program needs `pip install torchmetrics` (its download line says so). Each
#     program names the package and the command and stops if it is missing.

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

torchmetrics' metric objects keep exactly that as their state (`BinaryF1Score` the counts,
`BinaryAUROC` every score) and reduce it across ranks in `compute()`; all three programs use
them, as a torchmetrics user writes, and the tests compute the whole-set numbers once more with
scikit-learn from the final weights.

Here the labels are a noisy linear teacher's top 30 % (`make_data`), 640 training rows and 160
validation rows, dealt 80 / 80 to two `gloo` ranks on the CPU by `DistributedSampler`, in
batches of 32, 32 and 16; the network is the minimal loop's, trained for three epochs with Adam
at `lr=1e-2`. After every epoch each program computes F1 (threshold 0.5 on the predicted
probability of class 1) and AUROC in its own ways, and rank 0 writes them to a CSV file:

- **PyTorch**: the torchmetrics objects in your own loop (`update` on every batch, `compute()`
  once per epoch, which synchronises their states across ranks, then `reset()`), and, for
  comparison, the per-batch values (torchmetrics' functional `binary_f1_score` and
  `binary_auroc`) averaged over batches and ranks with `all_reduce`;
- **Lightning**: the torchmetrics objects passed to `self.log("val_f1", self.val_f1)`, so
  that the Trainer calls `compute()` and `reset()` at the end of the epoch; and the per-batch
  value logged with `self.log(..., sync_dist=True)`; its `CSVLogger` writes the file;
- **Fabric**: torchmetrics objects in your own loop, as in plain PyTorch, and the per-batch
  values averaged with `fabric.all_reduce`; `fabric.log_dict` writes the file.

**The reference.** A second run starts one process with batches of 64: each of its batches
holds the rows of the two ranks' batches of 32 together, so it trains as the two ranks do, up to
rounding (the [DDP page](../12_ddp/plot_ddp.md) checks this on the training loss), and it
validates all 160 rows itself, where every method gives the whole-set number. Which two-rank
methods give it too?

**How the processes start.** As on the DDP page: each program's `run()` starts the ranks with
`torchrun` (`python -m torch.distributed.run --standalone --nproc-per-node=2`, running the file
once per rank), then reads back the checkpoint and the CSV file rank 0 wrote, which hold the
weights and the per-epoch values this page compares.
"""

# %%
# ## The three programs
#
# `train()` is what every rank runs; `run()` starts the ranks and reads back rank 0's files,
# as on the DDP page.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# Rank 0 prints one line per epoch (Lightning: its progress bar's last state). The Lightning
# `Trainer` is built in the rank processes, out of the harness's sight, so its arguments are
# not listed here: they are `max_epochs`, `accelerator`, `devices`, `strategy="ddp"` and
# `logger=CSVLogger(...)`; the rest keeps Lightning's defaults.

from evidence import load
from evidence.programs import LABELS
from evidence.views import figures

runs = load("metrics")
result = runs.headline
result.executed()

# %%
# ### Which methods give the whole-set number?
#
# Each way of computing on two ranks against the one process's number, over all epochs (each
# program against its own one-process run). The metric objects, which reduce what the metric is
# made of (the counts, the scores), give the whole-set number; averaging per-batch values does
# not, whether the average is taken with `all_reduce`, by `sync_dist=True` or by
# `fabric.all_reduce`.

runs.verdicts("f1_whole_set", "auroc_whole_set", "batch_f1_not_whole_set", "batch_auroc_not_whole_set")

# %%
# The same, epoch by epoch, as the distance from the one-process number: the whole-set methods
# lie on zero, the per-batch averages (thin lines, crosses) off it, and not always on the same
# side.

one_process = runs["one_process"]
fig, axes = figures.panels(2)
for ax, metric in zip(axes, ("f1", "auroc")):
    whole = one_process.value("pytorch", f"history.val_{metric}")
    epochs = range(1, len(whole) + 1)
    for kind in result.kinds():
        for method, style in (("val", {}), ("batch", {"linewidth": 1, "marker": "x"})):
            gaps = [v - w for v, w in zip(result.value(kind, f"history.{method}_{metric}"), whole)]
            figures.overlay(ax, kind, epochs, gaps, label=f"{LABELS[kind]}: {method}_{metric}", **style)
    ax.set_xticks(list(epochs))
    figures.finish(ax, title=f"{metric.upper()} minus one process's", xlabel="epoch", ylabel="difference")
fig.suptitle("metrics: each two-rank method minus the one-process value, per epoch")
fig.tight_layout()

# %%
# Above, in the checks of the run, the three jobs also agree with each other method by method:
# they train identically (the same `DistributedSampler` order), and Lightning's
# `sync_dist=True` reduces a logged tensor as the plain `all_reduce` of batch-size-weighted
# sums does: it keeps the batch-size-weighted sum and the number of samples on each rank, and
# at the end of the epoch `sync_dist` reduces both over the ranks and divides one by the other.
#
# --8<-- "gallery/shared/costs.md"
#
# The memory probe is off here as well: it measures the process that calls `run()`, which only
# launches the ranks. The recorded calls are rank 0's (the recorder runs inside the rank-0
# process of a second pass of each job). The three programs do the same work: the same torchmetrics objects and
# functions, and a checkpoint after every epoch on rank 0 (Lightning's default
# `ModelCheckpoint`; the plain and Fabric loops overwrite one file).

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "`sync_dist=True` does not make a per-batch metric a whole-set metric"
#     `sync_dist=True` reduces whatever tensor you logged: for a per-batch F1 it gives the
#     batch-size-weighted mean of the per-batch F1 values over both ranks, which is the
#     `batch_f1` above, not the F1 of the set. Log a torchmetrics object instead (it needs no
#     `sync_dist`), or reduce the counts yourself. This is the question behind
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
# !!! note "The sanity check and metric objects"
#     The `Trainer`'s sanity check (two validation batches per rank before training) updates
#     the metric objects too; the `Trainer` resets them at the end of it, so the first epoch's
#     values are whole-set values (the checks above cover every epoch).
#
# ??? info "torchmetrics comes with Lightning"
#     `pytorch-lightning` depends on `torchmetrics`, so installing Lightning installs it; the
#     plain PyTorch program needs `pip install torchmetrics` (its download line says so). Each
#     program names the package and the command and stops if it is missing.

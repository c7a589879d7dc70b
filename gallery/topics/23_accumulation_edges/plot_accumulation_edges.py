"""
# Accumulation at the edges

Gradient accumulation sums the gradients of N micro-batches and takes one optimizer step; each
micro-batch's loss is divided by N so that the sum is a mean. [Gradient
accumulation](../09_grad_accumulation/plot_grad_accumulation.md) shows the basic case and that
complete windows equal one large batch. This page is about where the arithmetic stops being that
simple:

- **an epoch shorter than N**: Lightning's windows never cross an epoch boundary, so the window
  ends with the epoch;
- **the last, incomplete window of an epoch**: Lightning steps on it, and still divides by N;
- **accumulation against one larger batch**: equal only when every window gives each sample the
  weight the large batch gives it, and what it takes when it does not;
- **manual optimization**: there the loss is yours to divide.

The model and data are the minimal loop's (a two-layer classifier on synthetic data, SGD with
momentum 0.9 at rate 0.1), with micro-batches of 16 and N = 4. The shuffling uses
`SubsetRandomSampler`, which draws one permutation per epoch whatever the batch size, so batch
sizes can differ between runs while the samples arrive in the same order.

**What Lightning takes off your hands:** with `Trainer(accumulate_grad_batches=N)` the `Trainer`
divides the loss returned by `training_step` by N, skips `optimizer.step()` and `zero_grad()`
inside a window, steps at the end of the epoch whatever the window holds, and counts optimizer
steps in `trainer.global_step` and `trainer.estimated_stepping_batches`. With manual optimization
(`self.automatic_optimization = False`) all of that is yours again. **Fabric** leaves it to your
loop, and adds `fabric.no_backward_sync` to skip the gradient all-reduce inside a window on
several devices.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). `--train-size` sets the training
# samples, `--accumulate` N and `--divide-by` what each micro-batch's mean loss is divided by:
# `n` (N, what `accumulate_grad_batches` does), `samples` (it is weighted by its share of the
# samples in its window: times its size, over the window's samples) or `none`. The Lightning
# program accumulates with `accumulate_grad_batches` for `n`, and with manual optimization
# otherwise: only there can it divide by anything but N.
#
# <!-- implementations -->
#
# ## Executed in this build: an epoch shorter than N
#
# --8<-- "gallery/shared/executed.md"

from evidence import load

runs = load("accumulation_edges")
short = runs.headline
short.executed()

# %%
# ### Loss curves, overlaid

short.plot("history.train_loss", "history.val_loss")

# %%
# ### The window is the epoch
#
# 40 samples in micro-batches of 16 make 3 micro-batches per epoch (16, 16 and 8 samples), fewer
# than N = 4. Every micro-batch of an epoch therefore belongs to one window, and that window ends
# at the epoch's last batch: one optimizer step per epoch, never one per N micro-batches. The plain
# and Fabric loops step where Lightning does: after every N-th micro-batch of the epoch and after
# its last one (`(batch_idx + 1) % N == 0 or batch_idx + 1 == len(train_loader)`). The table reads
# the recording of the headline run's calls: the backward passes (one per micro-batch) before each
# optimizer step.


def window_lengths(found):
    lengths, pending = [], 0
    for event in found["trace"]["events"]:
        pending += event["op"] == "backward"
        if event["op"] == "optimizer.step":
            lengths.append(pending)
            pending = 0
    return lengths


short.per_implementation({"micro-batches before each optimizer step": window_lengths, "optimizer steps": "steps"})

# %%

runs.verdicts("one_step_per_epoch")

# %%
# Each micro-batch's loss is still divided by N, so a step's gradient is not the mean over the
# epoch's samples: a sample of the two full micro-batches weighs 1/(4 × 16) = 1/64, one of the last
# 8 samples 1/(4 × 8) = 1/32, and together the 40 samples weigh 16/64 + 16/64 + 8/32 = 3/4, where
# the mean over the 40 samples (one batch of 40) gives each 1/40 and all of them 1.
#
# ## Accumulation against one larger batch
#
# With 150 training samples an epoch holds 10 micro-batches: two full windows of 4, then a window
# of two micro-batches, the last of 6 samples. One batch of the same samples per step holds 64, 64
# and 22. Four runs of all three programs on these 150 samples (logged runs only): `batch64`, no
# accumulation; `by_n`, each micro-batch divided by N as `accumulate_grad_batches` does;
# `by_window`, each micro-batch weighted by its share of its window's samples (`--divide-by
# samples`; the Lightning program switches to manual optimization for it); `undivided`, no
# division at all. The weight one sample has in its step, for each way of dividing:
#
# | step of an epoch | micro-batches | samples | divided by N | by the window's samples | not divided | one batch of these samples |
# |---|---|---|---|---|---|---|
# | 1 | 16, 16, 16, 16 | 64 | 1/64 each (total 1) | 1/64 each (total 1) | 1/16 each (total 4) | 1/64 each |
# | 2 | 16, 16, 16, 16 | 64 | 1/64 each (total 1) | 1/64 each (total 1) | 1/16 each (total 4) | 1/64 each |
# | 3 | 16, 6 | 22 | 1/64 and 1/24 (total 1/2) | 1/22 each (total 1) | 1/16 and 1/6 (total 2) | 1/22 each |
#
# Dividing by N gives the full windows the large batch's weights but halves the last window's;
# dividing by the window's samples gives every sample the large batch's weight; not dividing makes
# every step N times (the last one twice) as long. The runs' reports hold the per-epoch losses,
# which the checks compare across runs (the topic's tests compare the final weights as well):

runs.verdicts("windows_step_like_the_large_batch", "dividing_by_n_is_not_the_large_batch",
              "dividing_by_the_window_is_the_large_batch", "no_division_is_another_training")

# %%
# ## Manual optimization: the loss is yours to divide
#
# With `self.automatic_optimization = False` the `Trainer` refuses `accumulate_grad_batches` (the
# Lightning program passes 1 there) and divides nothing: `self.manual_backward(loss)` adds the full
# gradient of every micro-batch, as `loss.backward()` does in a plain loop. In the `undivided`
# run the Lightning program accumulates 4 micro-batches by hand without dividing, and so do the
# plain and Fabric loops; the three agree with each other, and (above) not with the divided run.
# In `by_window` the same manual optimization divides by the window's samples and matches the
# large batch.

runs["undivided"].parity()

# %%
# --8<-- "gallery/shared/costs.md"

short.costs()

# %%
# ## Pitfalls
#
# !!! warning "Windows do not cross epochs: an epoch shorter than N never accumulates N"
#     Lightning 2.6.6 decides per batch whether to step in `TrainingEpochLoop._should_accumulate`
#     (`pytorch_lightning/loops/training_epoch_loop.py`, lines 438–454): it steps when the number of
#     batches so far *in this epoch* is a multiple of N (`batch_progress.current.ready % N == 0`), or
#     when the batch is the epoch's last, unless the strategy accumulates itself (DeepSpeed). With
#     fewer batches per epoch than N, every step is an end-of-epoch step: one per epoch, each a
#     fraction of a full window, as the headline shows. This is
#     [#21808](https://github.com/Lightning-AI/pytorch-lightning/issues/21808). Lightning 2.6.6 says
#     nothing about it (the tests check that no warning is raised; a `PossibleUserWarning` for it is
#     proposed in #21811, after 2.6.6), and its own
#     `trainer.estimated_stepping_batches` counts the same steps (`ceil(batches / N)` per epoch), so a
#     schedule sized with it stays consistent. A plain loop whose windows should cross epochs counts
#     micro-batches over the whole run instead of per epoch.
#
# !!! warning "The last window is divided by N, not by what it holds"
#     [#19987](https://github.com/Lightning-AI/pytorch-lightning/issues/19987) asks which of three
#     things happens to an incomplete last window: no step, a correct step over fewer samples, or a
#     step whose gradient is still divided by N. In 2.6.6 it is the third: the loss returned by
#     `training_step` is divided by `accumulate_grad_batches` for every batch
#     (`loops/optimization/automatic.py`, line 83, with `normalize=trainer.accumulate_grad_batches`
#     at line 329), and the step is taken (the rule above; the end-of-epoch step exists since
#     Lightning 0.9.0, #2853 in the CHANGELOG). The last step of the epoch is shorter in proportion
#     to what is missing, as the weights above show.
#
# !!! warning "Equal to a large batch only when every sample weighs the same"
#     [#20350](https://github.com/Lightning-AI/pytorch-lightning/issues/20350) reports accumulation
#     training worse than a large batch. Dividing each micro-batch's *mean* loss by N gives each of
#     its samples the weight 1/(N × its size): equal to the large batch's 1/(window samples) only
#     when all micro-batches of the window are full. Where they are not (the last batch of an epoch;
#     with sequences, micro-batches with different numbers of tokens), the mean of means is not the
#     mean. The fix is the one run above: sum the loss terms and divide by the number of terms in the
#     whole window. With `accumulate_grad_batches` that is not available, since it divides by N;
#     manual optimization (or a plain or Fabric loop) can. Layers that compute over the batch
#     (batch normalisation) stay different whatever the division.
#
# !!! warning "Manual optimization: divide by N, and step at the end of the epoch"
#     In manual optimization Lightning divides nothing (and raises `MisconfigurationException` for
#     `accumulate_grad_batches != 1`, `trainer/configuration_validator.py`, line 128). Since Lightning
#     2.1.0 the manual-optimization guide divides the loss by N in its accumulation example
#     ([#17957](https://github.com/Lightning-AI/pytorch-lightning/issues/17957), fixed in the docs
#     by [#17975](https://github.com/Lightning-AI/pytorch-lightning/pull/17975)). Its condition,
#     `if (batch_idx + 1) % N == 0`, has no end-of-epoch step: with a batch count that N does not
#     divide, the epoch's last micro-batches run `manual_backward` and no step follows. Their
#     gradients do not wait for the next epoch: before every validation during `fit`, Lightning
#     calls the module's `on_validation_model_zero_grad` hook, whose default is `self.zero_grad()`
#     (`core/hooks.py`, line 161), unless the batch is inside an `accumulate_grad_batches` window
#     (`loops/training_epoch_loop.py`, lines 402–404). In manual optimization
#     `accumulate_grad_batches` is 1, so no batch is inside a window for the `Trainer` and the call
#     always comes: the leftovers' `.grad` is set to `None` when the epoch's validation starts, and
#     their gradients are thrown away (with 150 samples, the last 22 samples of every epoch never
#     reach a step). The hook exists since Lightning 2.1.0
#     ([#18710](https://github.com/Lightning-AI/pytorch-lightning/pull/18710), which also stopped
#     the zeroing inside an `accumulate_grad_batches` window); the call trace above shows the call
#     as the `model.zero_grad()` row before each validation. The tests check the gradients: the
#     next epoch's first `training_step` finds no `.grad`; with the hook overridden to do nothing it
#     finds the leftovers, and the final weights differ. Only an epoch with no validation at its end
#     (no validation loader, `check_val_every_n_epoch > 1`, `limit_val_batches=0`) passes them to the
#     next epoch's first window; and a validation inside a manual window (`val_check_interval`)
#     throws away that window's gradients so far, where `accumulate_grad_batches` keeps them (the
#     tests check both). The manual branch of the program here adds
#     `or batch_idx + 1 == self.trainer.num_training_batches`, so no gradient is left when
#     validation starts; dividing by N, it is then equal to `accumulate_grad_batches` (the tests
#     check both: equal with the condition, different without it).

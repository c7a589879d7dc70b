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
sizes can differ between programs while the samples arrive in the same order.

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
# `n` (N, what `accumulate_grad_batches` does), `samples` (the number of samples in its window)
# or `none`. The Lightning program accumulates with `accumulate_grad_batches` unless `--manual`
# is given; only then can it divide by anything but N. The blocks marked
# `# region: not counted` record what `run()` returns (the losses, the micro-batch sizes of every
# optimizer step) or hold the command line.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: by default the `Trainer` writes logs and a
#     checkpoint under `lightning_logs/` in the working folder, files the reader did not ask for.
#     The progress bar and the model summary follow the quiet switch
#     (`enable_progress_bar=verbose`, `enable_model_summary=verbose`). Everything else is
#     Lightning's default, including the sanity check of two validation batches before training,
#     which changes no number compared here.
#
# ## Executed in this build: an epoch shorter than N
#
# Each program ran once with its log captured, then under a memory probe, then in timed rounds
# alternating the order of the programs. Same seed, same data, same device and one torch thread
# for all of them. This is the page's headline run: the overview lists it.

from evidence import load
from evidence.views.topics import accumulation_edges as views

runs = load("accumulation_edges")
result = runs.headline
result.stamp()

# %%

views.steps_sentence(result)

# %%
# ### What each program printed

result.logs()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did they compute the same thing?
#
# Final weights element by element, and the per-epoch validation losses. The plain and Fabric
# loops step where Lightning does: after every N-th micro-batch of the epoch and after its last
# one (`(batch_idx + 1) % N == 0 or batch_idx + 1 == len(train_loader)`).

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
# ### The window is the epoch
#
# Every epoch holds fewer micro-batches than N, so every micro-batch of it belongs to one window
# and that window ends at the epoch's last batch: one optimizer step per epoch, never one per N
# micro-batches. Each micro-batch's loss is still divided by N, so the step's gradient is not the
# mean over the epoch's samples: the table gives each sample's weight, and their sum against the
# mean's 1.

views.windows_table(result, "lightning")

# %%
# ### Time and memory

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Accumulation against one larger batch
#
# With 150 training samples an epoch holds 10 micro-batches: two full windows of 4, then a window
# of two micro-batches, the last of 6 samples. One batch of the same samples per step would hold
# 64, 64 and 22. Dividing each micro-batch's loss by N, as `accumulate_grad_batches` does, gives
# the full windows the large batch's weights but not the last one. The table below works the
# weights out from the window sizes the plain program recorded with N-division in the
# manual-optimization run further down (the same 150 samples);
# [Gradient accumulation](../09_grad_accumulation/plot_grad_accumulation.md#when-the-last-window-is-incomplete-it-is-not-the-large-batch)
# runs this comparison against a batch of 64, and the final weights of the network differ far
# beyond rounding (the tests pin the same gap for the 150 samples here).

views.windows_table(runs["manual_undivided"], "pytorch")

# %%
# What it takes to be equal: give every sample the weight the large batch gives it, by dividing
# each micro-batch's summed loss by the number of samples in its window (`--divide-by samples`:
# the micro-batch mean times its size, over the window's samples). `accumulate_grad_batches`
# always divides by N, so the Lightning program does this with manual optimization; Fabric does
# it in its loop. Plain PyTorch is the reference here with batches of 64 and no accumulation
# (logged and memory runs only).

window_mean = runs["window_mean"]
views.windows_table(window_mean, "fabric")

# %%
# Every step then uses the same samples with the same weights as the large batch; what is left is
# the order of the additions (a sum over micro-batches against one mean), a rounding difference.

window_mean.parity()

# %%
# ## Manual optimization: the loss is yours to divide
#
# With `self.automatic_optimization = False` the `Trainer` refuses `accumulate_grad_batches`
# and divides nothing: `self.manual_backward(loss)` adds the full gradient of every micro-batch.
# Here the Lightning program accumulates 4 micro-batches by hand and forgets the division; the
# plain and Fabric loops divide by N (logged and memory runs only). The steps fall at the same
# places, but each gradient is the sum over the window's micro-batches, not their mean: N times
# larger for a full window (for SGD, the same as an N times larger learning rate), twice for the
# last window of two. The weights part accordingly.

undivided = runs["manual_undivided"]
views.windows_table(undivided, "lightning")

# %%

undivided.parity()

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
#     to what is missing, as the tables show.
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
#     by [#17975](https://github.com/Lightning-AI/pytorch-lightning/pull/17975)). Its condition, `if (batch_idx + 1) % N == 0`, has no end-of-epoch step: with a batch
#     count that N does not divide, the last micro-batches' gradients wait in `.grad` and join the
#     first window of the next epoch (with 150 samples: a first window of six micro-batches), and
#     those of the last epoch are never used. The program here adds `or batch_idx + 1 ==
#     self.trainer.num_training_batches`, which makes it equal to `accumulate_grad_batches` (the tests
#     check both: equal with the condition, different without it).

"""
# Gradient accumulation

Gradient accumulation trades steps for memory: instead of one batch of `k * b` samples, run
`k` micro-batches of `b` samples, let their gradients add up in `.grad`, and take one optimizer
step. Dividing each micro-batch loss by `k` makes the sum the *mean* gradient over the
`k * b` samples, which is what the large batch would have produced.

The model and data are those of the minimal loop, with 600 samples (480 for training) so that
the training set splits into equal micro-batches of 16; the optimizer is SGD with momentum 0.9.

**What Lightning takes off your hands here:** `Trainer(accumulate_grad_batches=k)` divides the
loss by `k`, skips `optimizer.step()` and `zero_grad()` on the batches in between, and steps on
the last batch of the epoch even when the window there is incomplete. Learning-rate schedulers
with `"interval": "step"` and `trainer.global_step` count optimizer steps, not batches.
**Fabric** leaves the counting to your loop; its `fabric.no_backward_sync(model, enabled=...)`
skips the gradient all-reduce on the accumulating batches when training on several devices
(on one device it does nothing, but the same loop then scales out unchanged).
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). The blocks marked
# `# region: not counted` record what `run()` returns (the losses, the optimizer steps) or hold
# the command line; they are left out of the line counts.
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
#     which leaves the numbers unchanged (the parity below).
#
# ## Executed in this build
#
# Each program ran once with its log captured, then under a memory probe, then timed rounds
# alternating the order of the programs. This is the page's headline run, all three programs
# accumulating: the overview lists it.

from evidence import load
from evidence.views.topics import grad_accumulation as views

runs = load("grad_accumulation")
result = runs.headline
result.stamp()

# %%
# What each epoch held, from the arguments of the run and the counts the programs returned:

views.windows_sentence(result)

# %%
# ### What each program printed

result.logs()

# %%
# ### Loss curves, overlaid
#
# The training loss is the mean of the unscaled micro-batch losses (Lightning's `self.log`
# receives the loss before the Trainer divides it by `k`).

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did they compute the same thing?
#
# Final weights element by element, and the per-epoch validation loss.

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
# ### The incomplete window at the end of the epoch
#
# Lightning steps the optimizer after every `k`-th batch **and after the last batch of the
# epoch**, whatever is left in the window, and it divides that window's losses by `k` as well.
# The plain and Fabric loops do the same (`(batch_idx + 1) % k == 0 or batch_idx + 1 ==
# len(train_loader)`). The table counts what each program did.

views.windows_table(result)

# %%
# ### Time and memory

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Accumulated micro-batches against one large batch
#
# Here the plain PyTorch program is the reference with **large batches and no accumulation**,
# and the Lightning and Fabric programs accumulate micro-batches into windows of the same size
# (logged and memory runs only). Every window is complete and the data order is the same, so
# all three take the same optimizer steps on the same samples. What is left is floating-point
# rounding: k micro-batch means, each divided by k and summed into `.grad`, are not added in the
# same order as one mean over the large batch.

equivalent = runs["versus_batch_80"]
views.windows_sentence(equivalent)

# %%

equivalent.parity()

# %%
# ### When the last window is incomplete, it is not the large batch
#
# The same comparison with the headline set-up: Lightning and Fabric accumulate micro-batches
# into windows of k, the plain program takes batches as large as a full window. The full windows
# match the plain program's full batches, but the last window of each epoch is incomplete and
# its summed gradient is still divided by k, not by the number of micro-batches in it: that step
# is shorter than the plain program's step on its last, smaller batch. The weights drift apart
# by far more than rounding.

incomplete = runs["versus_batch_64"]
views.windows_sentence(incomplete)

# %%

incomplete.parity()

# %%
# ## Pitfalls
#
# !!! warning "The last window of the epoch"
#     When the number of batches is not a multiple of `k`, Lightning still steps on the last
#     batch of the epoch and still divides by `k`, so the final step of each epoch is shorter
#     than the others. A plain loop that only steps when `(batch_idx + 1) % k == 0` does
#     something else again: it carries the leftover gradients into the next epoch (or drops
#     them when `zero_grad()` runs at the start of the epoch). For the same result, write the
#     condition as Lightning does, as the programs here do, or make the batch count a multiple
#     of `k`.
#
# !!! warning "Shuffling and evenly divisible data"
#     When the training set divides evenly into batches, Lightning stops asking the
#     `DataLoader` for batches after the last one, while a `for` loop asks once more and gets
#     `StopIteration`. That extra request lets `RandomSampler` (what `shuffle=True` uses) draw
#     one more permutation from the shared generator, which it then throws away. From the second
#     epoch on, the plain loop and Lightning see the batches in different orders. The programs
#     here use `SubsetRandomSampler`, which draws exactly one permutation per epoch, so the order
#     does not depend on how the loop ends.
#
# !!! note "Equivalent to the large batch only for batch-independent layers"
#     The equality above holds for models whose output for one sample does not depend on the
#     other samples in the batch. Batch normalisation computes its statistics per micro-batch,
#     so accumulation is not the same as a large batch there.
#
# ??? info "Scaling the loss"
#     Without the division by `k` the accumulated gradient is `k` times the mean gradient: the
#     same as multiplying the learning rate by `k`. Lightning divides for you; in your own loop
#     (plain or Fabric) it is `(loss / k).backward()` or `fabric.backward(loss / k)`. Whatever
#     you log should be the undivided loss.

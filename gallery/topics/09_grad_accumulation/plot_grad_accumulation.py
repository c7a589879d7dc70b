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
# Fabric against plain PyTorch; PyTorch against Lightning). `--batch-size` sets the micro-batch,
# `--accumulate` the number of micro-batches per optimizer step (1: no accumulation).
#
# <!-- implementations -->
#
# ## Executed in this build: 4 micro-batches of 16 per step
#
# --8<-- "gallery/shared/executed.md"

from evidence import load

runs = load("grad_accumulation")
result = runs.headline
result.executed()

# %%
# ### Loss curves, overlaid
#
# The training loss is the mean of the unscaled micro-batch losses (Lightning's `self.log`
# receives the loss before the Trainer divides it by `k`).

result.plot("history.train_loss", "history.val_loss")

# %%
# ### The incomplete window at the end of the epoch
#
# 480 samples make 30 micro-batches of 16 per epoch: seven full windows of 4, then a window of 2.
# Lightning steps the optimizer after every `k`-th batch **and after the last batch of the
# epoch**, whatever is left in the window, and it divides that window's losses by `k` as well.
# The plain and Fabric loops do the same (`(batch_idx + 1) % k == 0 or batch_idx + 1 ==
# len(train_loader)`). The table counts, in the recording of the headline run's calls, the
# backward passes (one per micro-batch) and the optimizer steps each program made.


def recorded(op):
    return lambda found: sum(event["op"] == op for event in found["trace"]["events"])


result.per_implementation({"micro-batches (backward calls)": recorded("backward"),
                           "optimizer steps": recorded("optimizer.step"),
                           "optimizer steps counted by the harness": "steps"},
                          caption=f"{result.params['epochs']} epochs, k = {result.params['accumulate']}.")

# %%

runs.verdicts("one_step_per_window")

# %%
# ## Accumulated micro-batches against one large batch
#
# Two more runs of all three programs without accumulation, with batches as large as a window:
# `batch80` against the variant `accumulate5` (5 micro-batches of 16 per step, every window
# complete), and `batch64` against the headline (4 micro-batches of 16, the last window of each
# epoch holding 2). The data order is the same in all of them (see the pitfalls). With complete
# windows, each step uses the same samples with the same weights as the large batch; what is left
# is floating-point rounding: k micro-batch means, each divided by k and summed into `.grad`, are
# not added in the same order as one mean over the large batch. With the incomplete window, the
# full windows match the large batches, but the last window's summed gradient is still divided by
# k, not by the number of micro-batches in it: that step is shorter than the plain step on the
# last, smaller batch. The runs' reports hold the per-epoch losses, which the checks compare; the
# topic's tests compare the final weights too (within 1e-5 with complete windows, apart by more
# than 1e-3 with the incomplete one).

runs.verdicts("complete_windows_step_like_the_large_batch", "complete_windows_equal_the_large_batch",
              "incomplete_window_steps_like_the_large_batch", "incomplete_window_is_not_the_large_batch")

# %%
# --8<-- "gallery/shared/costs.md"

result.costs()

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
#     of `k`. [Accumulation at the edges](../23_accumulation_edges/plot_accumulation_edges.md)
#     works out each sample's weight in that last step.
#
# !!! warning "Shuffling and evenly divisible data"
#     When the training set divides evenly into batches, Lightning stops asking the
#     `DataLoader` for batches after the last one, while a `for` loop asks once more and gets
#     `StopIteration`. That extra request lets `RandomSampler` (what `shuffle=True` uses) draw
#     one more permutation from the shared generator, which it then throws away. From the second
#     epoch on, the plain loop and Lightning see the batches in different orders. The programs
#     here use `SubsetRandomSampler`, which draws exactly one permutation per epoch, so the order
#     does not depend on how the loop ends, nor on the batch size.
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

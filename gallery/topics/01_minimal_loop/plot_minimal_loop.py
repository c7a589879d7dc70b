"""
# The minimal training loop

The task the comparison usually starts from, corrected: a two-layer classifier
(`Linear(10, 16) -> ReLU -> Linear(16, 2)`, cross-entropy, Adam at `lr=1e-3`) trained on
synthetic data. Three fixes to the usual version of this example:

- the labels depend on the features (a fixed random linear "teacher" decides them), so the
  loss curve shows learning rather than noise;
- validation uses a **held-out 20 % split**, never the training data;
- the Lightning program actually builds its `DataLoader`s and calls `Trainer.fit`, so it runs.

**What Lightning takes off your hands here:** the epoch and batch loops, `model.train()` /
`model.eval()` switching, `torch.no_grad()` during validation, `optimizer.zero_grad()`,
`loss.backward()` and `optimizer.step()`, moving batches to the device, and averaging the
per-batch losses into per-epoch numbers (`self.log(..., on_epoch=True)` weights them by batch
size, exactly as the plain loop does by hand). **Fabric** keeps your loop and takes over only
the device handling (`fabric.setup`, `fabric.setup_dataloaders`, `fabric.backward`).

For a fair comparison the Lightning `Trainer` is configured to do the same work as the plain
loop: no progress bar, no logger, no checkpoint, no model summary, no sanity-check validation.
What those defaults cost is measured separately on the benchmark pages.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). Each program runs as downloaded,
# on the CPU or, where one is present, a CUDA GPU.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Each program ran once with its log captured, then under a memory probe, then five timed
# rounds alternating the order of the programs. Same seed, same data, same device and one
# torch thread for all of them.

from evidence import load

result = load("minimal_loop").headline
result.stamp()

# %%
# ### What each program printed

result.logs()

# %%
# ### Loss curves, overlaid
#
# Three lines are drawn on each panel; where they coincide, the implementations computed the
# same numbers.

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did they compute the same thing?
#
# The final weights of each network are compared element by element with the plain PyTorch
# ones, and so is the per-epoch validation loss. The three programs seed the global RNG
# identically and shuffle with their own seeded `torch.Generator`, so the batches arrive in
# the same order; Lightning's optimizer step with a closure performs the same arithmetic as
# the plain `loss.backward(); optimizer.step()`.

result.parity()

# %%
# ### Time and memory
#
# The first run includes one-time set-up (building the `Trainer` or `Fabric` object, the
# first pass through the data). The later runs show steady state. On a model this small the
# fixed cost of Lightning's machinery per step is what you see; how that overhead shrinks as
# the model grows is measured on the benchmark pages.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "Validating on the training data"
#     The widely copied version of this example computes its "validation" loss on the
#     training set. That number says nothing about generalisation; use a held-out split
#     (here `make_data` returns two disjoint `TensorDataset`s).
#
# !!! note "Defaults that differ"
#     - `Trainer` runs two sanity-check validation batches before training
#       (`num_sanity_val_steps=2`); the plain loop does not. Set it to `0` for the same work.
#     - `self.log` in `training_step` defaults to `on_step=True, on_epoch=False`: without
#       `on_epoch=True` you get per-step values, not the epoch mean a plain loop computes.
#     - `Trainer` enables a progress bar, a TensorBoard/CSV logger, checkpointing and a model
#       summary by default: each has a cost on small models.
#
# ??? info "Seeding and data order"
#     `seed_everything(seed)` seeds Python, NumPy and torch. The shuffling order comes from the
#     `generator=` given to each `DataLoader`, so it does not depend on how many random numbers
#     the framework drew before the first batch.

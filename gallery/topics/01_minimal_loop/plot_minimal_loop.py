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

Each program is the file a reader downloads, byte for byte: the task and a short command line,
nothing that exists only for this site. `run()` returns the trained network and, in the plain and
Fabric loops, the per-epoch history they keep; the Lightning program's history is what its
`self.log` calls logged (see [how the site reads the programs](../../../reading.md)).
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
# --8<-- "gallery/shared/executed.md"

from evidence import load

result = load("minimal_loop").headline
result.executed()

# %%
# ### Loss curves, overlaid
#
# Three lines are drawn on each panel; where they coincide, the implementations computed the
# same numbers. The three programs seed the global RNG identically and shuffle with their own
# seeded `torch.Generator`, so the batches arrive in the same order; Lightning's optimizer step
# with a closure performs the same arithmetic as the plain `loss.backward(); optimizer.step()`.
# Lightning's sanity-check validation (two validation batches before the first epoch) stays on:
# it runs in eval mode without gradients, and the `Trainer` runs it inside `isolate_rng()`,
# which restores every random number generator afterwards, so the weights still match exactly.
# The validation loss of Lightning can differ in the last digits: Lightning divides the
# batch-size weighted sum in float32, the plain and Fabric loops read it with `.item()` and
# divide in Python (float64).

result.plot("history.train_loss", "history.val_loss")

# %%
# --8<-- "gallery/shared/costs.md"

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "Validating on the training data"
#     The widely copied version of this example computes its "validation" loss on the
#     training set. That number says nothing about generalisation; use a held-out split
#     (here `make_data` returns two disjoint `TensorDataset`s).
#
# !!! note "Defaults the Lightning program changes"
#     - `logger=False` and `enable_checkpointing=False`: by default a `Trainer` writes a
#       `lightning_logs/` folder with a logger's files and a checkpoint, files this program's
#       reader did not ask for (logging and checkpointing have their own pages).
#     - `enable_progress_bar=verbose, enable_model_summary=verbose`: on from the command line,
#       off in the quiet runs the harness times, where no implementation prints anything.
#       Since Lightning 2.6.0 the defaults are the `rich` versions (`RichProgressBar`,
#       `RichModelSummary`) when the `rich` package is installed, as here.
#
#     Everything else is left at its default, including the sanity check
#     (`num_sanity_val_steps=2`), which the plain loop does not do and which changes none of
#     the numbers compared here.
#
# !!! note "Defaults that differ from a plain loop"
#     `self.log` in `training_step` defaults to `on_step=True, on_epoch=False`: without
#     `on_epoch=True` you get per-step values, not the epoch mean a plain loop computes. In
#     `validation_step` the default is the opposite (`on_epoch=True`).
#
# ??? info "One `.item()` per epoch"
#     `loss.item()` copies a value from the device to Python and, on a GPU, waits until every
#     queued kernel has finished. The plain and Fabric loops therefore add
#     `loss.detach() * len(x)` to a tensor that stays on the device and call `.item()` once
#     per epoch, not once per step.
#
# ??? info "Seeding and data order"
#     `seed_everything(seed)` seeds Python, NumPy and torch. The shuffling order comes from the
#     `generator=` given to each `DataLoader`, so it does not depend on how many random numbers
#     the framework drew before the first batch.

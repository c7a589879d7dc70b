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

Each program also holds code that exists only so this site can run and compare it: the command
line (`main()`) and the lines that collect what `run()` returns (a `history` dict, the final
weights). They sit between `# region: not counted (...)` and `# endregion` in every program, and
the line counts below leave them out.
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
# Each program ran once with its log captured, then under a memory probe, then in timed rounds
# alternating the order of the programs (the line below says how many). Same seed, same data,
# same device and one torch thread for all of them.

from evidence import load

result = load("minimal_loop").headline
result.stamp()

# %%
# ### What each program printed
#
# The logged run is what a reader sees from the command line (`verbose=True`). Lightning shows
# its model summary and its progress bar, which carries the epoch losses because `self.log`
# is called with `prog_bar=True`. So that the three logs can be compared line by line, the
# Lightning program also prints each epoch's losses from the callback that collects its
# `history` (not counted: a Lightning user reads them on the bar).

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
# the plain `loss.backward(); optimizer.step()`. Lightning's sanity-check validation (two
# validation batches before the first epoch) stays on: it runs in eval mode without gradients,
# so it changes no weight, and the `Trainer` runs it inside `isolate_rng()`, which restores
# every random number generator afterwards; the weights still match exactly (the tests pin it).
# The validation loss of Lightning can differ in the last digits: all three add the batch-size
# weighted losses into a float32 tensor on the device, but Lightning divides that sum in
# float32 while the plain and Fabric loops read it with `.item()` and divide in Python
# (float64).

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
# ### Time and memory
#
# The first run includes one-time set-up (building the `Trainer` or `Fabric` object, the
# first pass through the data). The later runs show steady state. The timed runs are quiet
# (`verbose=False`): no program prints, and the `Trainer` shows no progress bar or model
# summary; its sanity-check validation is included. On a model this small the fixed cost of
# Lightning's machinery per step is what you see; how that overhead shrinks as the model grows
# is measured on the benchmark pages.

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

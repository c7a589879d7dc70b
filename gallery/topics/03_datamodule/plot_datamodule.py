"""
# Real data with a DataModule

Real data needs more than a tensor of random numbers: it has to be loaded, split into
training, validation and test sets, and normalised, and each of those steps is a chance to leak
information from the held-out sets into training. This topic trains a small classifier on
scikit-learn's **handwritten digits** (`load_digits`: 1797 images of 8x8 pixels, ten classes,
shipped inside scikit-learn, so nothing is downloaded) with an MLP `Linear(64, 64) -> ReLU ->
Linear(64, 10)`.

The data code is the same in spirit everywhere: a seeded permutation splits the rows 60 / 20 /
20 % into train, validation and test; each pixel is standardised with the mean and standard
deviation of the **training split only** (pixels that are constant in the training split keep a
scale of one); a small `Dataset` returns one `(features, label)` pair per index.

**What Lightning offers here:** the `LightningDataModule`, a class that keeps all of that in
one place with fixed hook names: `prepare_data()` (download or check files; in a multi-process
run called on one process per machine, see the pitfalls), `setup(stage)` (split, transform,
build datasets; called on every process), and `train_dataloader()` / `val_dataloader()` /
`test_dataloader()`. The `Trainer` calls these hooks itself when you pass `datamodule=` to
`fit` and `test`. **Fabric** has no DataModule: its program uses the plain `Dataset` and
`DataLoader` code unchanged and only hands the loaders to `fabric.setup_dataloaders`.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). Each runs as downloaded: the digits
# come with scikit-learn. Batches of 64 and Adam at `lr=1e-2`; the test split is scored once,
# after training.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The DataModule builds exactly the datasets and loaders the plain code builds, so the batches,
# and therefore the weights, are the same. Every program weights its epoch means by batch size;
# Lightning divides its float32 sums in float32, the plain and Fabric loops divide in Python
# (float64), which is why Lightning's losses and accuracies can differ in the last digits.

from evidence import load

digits = load("datamodule")
result = digits.headline
result.executed()

# %%
# ### Curves, overlaid
#
# Loss on the training batches (averaged per epoch), then loss and accuracy on the validation
# split. The Lightning curves are what its `self.log` calls logged.

result.plot("history.train_loss", "history.val_loss")

# %%

result.plot("history.val_acc", ylabel="accuracy", title="datamodule: validation accuracy of every implementation")

# %%
# ### Test accuracy
#
# Scored on 359 test digits that took no part in training, in choosing the normalisation or in
# validation: `trainer.test(datamodule=...)` for Lightning, one more pass of the evaluation
# loop for the others.

result.per_implementation({"test loss": "test_loss", "test accuracy": "test_acc",
                           "digits right of 359": lambda found: round(359 * found["test_acc"])})

# %%

digits.verdicts("steps", "test_accuracy")

# %%
# ### When does the Trainer call the DataModule?
#
# `fit` calls `prepare_data`, then `setup("fit")`, then asks for the validation loader
# before the training loader: the sanity check, on by default, validates two batches before
# the first training step (in the recorded calls below, Lightning's column starts with two
# forward passes in eval mode, before any training step).
# `test` calls `prepare_data` again, `setup("test")`, and asks for the test loader. `setup`
# therefore runs twice, so it must not redo (or, worse, re-randomise) work that is already
# done: the program returns early when its datasets exist. The test suite records the hook
# calls of a full run and pins this order (`tests/test_datamodule/test_datamodule.py`).
#
# --8<-- "gallery/shared/costs.md"

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "Statistics from the training split only"
#     Standardising with the mean and standard deviation of *all* rows lets the test set shape
#     the inputs the model is trained on; the measured accuracy is then slightly optimistic.
#     Compute them from the training indices, after splitting, as all three programs do.
#
# !!! warning "`setup` is called once per stage"
#     `trainer.fit` and `trainer.test` each call `setup`. If `setup` re-splits with a fresh
#     random permutation, rows used for training can land in the test set. Seed the split (here
#     with its own `torch.Generator`) and build the datasets only once.
#
# !!! note "`prepare_data` runs on one process per machine, and keeps no state"
#     In a multi-process run the `Trainer` calls `prepare_data` only on the process with local
#     rank 0 of **each node** (each machine), while the other processes wait for it: that is the
#     default, `prepare_data_per_node=True`, an attribute of the DataModule (and of the
#     `LightningModule`) since Lightning 1.5; the `Trainer` argument of that name is gone since
#     1.7. Set `self.prepare_data_per_node = False` when the nodes share one file
#     system, and only global rank 0 (local rank 0 of node 0) calls it. Either way anything it
#     assigns to `self` is missing on every other process: download or verify files there, and
#     build datasets in `setup`, which every process runs. Here there is nothing to download:
#     it only checks that the digits file scikit-learn ships
#     (`sklearn/datasets/data/digits.csv.gz`) is present, so a missing file fails before
#     training.
#
# !!! note "The sanity check"
#     Before training, the `Trainer` validates `num_sanity_val_steps=2` batches in eval mode
#     without gradients, inside `isolate_rng()`; it changes none of the numbers compared here.
#
# ??? info "Stage names"
#     `setup(stage)` receives a `TrainerFn` value, a string enum: `stage == "fit"` works, but
#     formatting it with an f-string or `str()` gives `TrainerFn.FITTING` on Python 3.11 and
#     later, while joining or concatenating it uses the plain value `"fit"`.

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
one place with fixed hook names: `prepare_data()` (download or check files; in distributed runs
called on one process only), `setup(stage)` (split, transform, build datasets; called on every
process), and `train_dataloader()` / `val_dataloader()` / `test_dataloader()`. The `Trainer`
calls these hooks itself when you pass `datamodule=` to `fit` and `test`. **Fabric** has no
DataModule: its program uses the plain `Dataset` and `DataLoader` code unchanged and only hands
the loaders to `fabric.setup_dataloaders`.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). Each runs as downloaded: the digits
# come with scikit-learn.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Six epochs, batches of 64, Adam at `lr=1e-2`; the test split is scored once, after training.

from evidence import load
from evidence.views.topics import datamodule as views

result = load("datamodule").headline
result.stamp()

# %%
# ### What each program printed

result.logs()

# %%
# ### Curves, overlaid
#
# Loss on the training batches (averaged per epoch), loss and accuracy on the validation split.

result.plot("history.train_loss", "history.val_loss")

# %%

result.plot("history.val_acc", ylabel="accuracy", title="datamodule: validation accuracy of every implementation")

# %%
# ### Did they compute the same thing?
#
# The final weights are compared element by element with the plain PyTorch ones, then the test
# accuracy and the validation curves. The DataModule builds exactly the datasets and loaders the
# plain code builds, so the batches, and therefore the weights, are the same. Lightning's logged
# accuracies and losses are batch-size weighted means accumulated in float32, which is why they
# can differ from the plain Python sums in the last digits.

result.parity()

# %%
# ### Test accuracy
#
# Scored on 359 test digits that took no part in training, in choosing the normalisation or in
# validation.

views.test_table(result)

# %%
# ### When does the Trainer call the DataModule?
#
# The Lightning program's DataModule records each hook call. `fit` calls `prepare_data`,
# `setup` with stage `fit`, and asks for the training and validation loaders; `test` calls
# `prepare_data` again, `setup` with stage `test`, and asks for the test loader. `setup` runs
# twice, so it must not redo (or, worse, re-randomise) work that is already done: the program
# returns early when its datasets exist.

views.hook_calls_table(result)

# %%
# ### Time and memory
#
# Every program builds its datasets once per run; the per-item `Dataset` indexing and the
# default collate function dominate the work on a model this small.

result.timings()

# %%
# ### Lines of code

result.loc()

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
# !!! note "`prepare_data` does not keep state"
#     In a multi-process run `prepare_data` executes on one process only, so anything it
#     assigns to `self` is missing on the others. Download or verify files there; build datasets
#     in `setup`. Here there is nothing to download: it only checks that the digits file scikit-learn ships
#     (`sklearn/datasets/data/digits.csv.gz`) is present, so a missing file fails before training.
#
# ??? info "Stage names"
#     `setup(stage)` receives a `TrainerFn` value, a string enum: `stage == "fit"` works, but
#     formatting it with an f-string prints `TrainerFn.FITTING` on Python 3.11+. The program
#     records `"setup:" + stage`, which uses the plain string value.

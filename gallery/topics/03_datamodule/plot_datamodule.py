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
`fit` and `test`. **Fabric** has no
DataModule: its program uses the plain `Dataset` and `DataLoader` code unchanged and only hands
the loaders to `fabric.setup_dataloaders`.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). Each runs as downloaded: the digits
# come with scikit-learn. Code that exists only so this site can run and compare the programs
# (the command line, collecting what `run()` returns, recording the hook calls) sits between
# `# region: not counted` and `# endregion` and is left out of the line counts.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Batches of 64 and Adam at `lr=1e-2` (the programs' defaults); the test split is scored once,
# after training.

from evidence import load
from evidence.views.topics import datamodule as views

result = load("datamodule").headline
result.stamp()

# %%
# ### What each program printed
#
# Lightning shows its model summary, its progress bar and the `trainer.test` result table; the
# epoch lines of its log come from the callback that collects its `history` (not counted: a
# Lightning user reads the values on the progress bar, where `prog_bar=True` puts them).

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
# plain code builds, so the batches, and therefore the weights, are the same. Every program
# weights its epoch means by batch size. Lightning adds each batch's mean times its size into a
# float32 tensor and divides in float32; the plain and Fabric loops add the losses into a float32
# tensor and count the correct predictions as integers, then divide in Python (float64). That is
# why Lightning's losses and accuracies can differ in the last digits.

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
# ### Test accuracy
#
# Scored on 359 test digits that took no part in training, in choosing the normalisation or in
# validation.

views.test_table(result)

# %%
# ### When does the Trainer call the DataModule?
#
# Each hook call of the Lightning program's DataModule is recorded (by `record_calls`, in the
# not-counted region). `fit` calls `prepare_data` and `setup` with stage `fit`, then asks for
# the validation loader before the training loader: the sanity check, on by default, validates
# two batches before the first training step. `test` calls `prepare_data` again, `setup` with
# stage `test`, and asks for the test loader. `setup` runs twice, so it must not redo (or,
# worse, re-randomise) work that is already done: the program returns early when its datasets
# exist.

views.hook_calls_table(result)

# %%
# ### Time and memory
#
# Every program builds its datasets once per run; the per-item `Dataset` indexing and the
# default collate function dominate the work on a model this small. The timed runs are quiet
# (`verbose=False`): no program prints, and the `Trainer` shows no progress bar, model summary
# or test table; its sanity check is included.

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
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False` (by default a `Trainer` writes a
#     `lightning_logs/` folder this program's reader did not ask for), and
#     `enable_progress_bar`, `enable_model_summary` and `trainer.test(verbose=...)` follow the
#     program's `verbose` switch: on from the command line, off in the quiet timed runs. The
#     sanity check stays on; it validates in eval mode without gradients, inside
#     `isolate_rng()`, and changes none of the numbers compared here.
#
# ??? info "Stage names"
#     `setup(stage)` receives a `TrainerFn` value, a string enum: `stage == "fit"` works, but
#     formatting it with an f-string or `str()` gives `TrainerFn.FITTING` on Python 3.11 and
#     later.
#     Concatenating or joining uses the plain string value, as the recorded `setup:fit` shows.

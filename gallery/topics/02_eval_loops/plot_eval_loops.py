"""
# Validation, test and prediction loops

Training is only half of a model's life: it is also scored on a validation split every epoch,
measured once on a held-out test split, and finally asked for predictions on data nobody has
labels for. All three of those passes must run the network in **evaluation mode**
(`model.eval()`: dropout off, batch norm using its running statistics instead of the
statistics of the current batch) and **without building an autograd graph**
(`torch.no_grad()` or `torch.inference_mode()`). Forgetting either does not crash anything;
the numbers are just quietly wrong or the memory quietly wasted.

The network here is chosen so that forgetting matters: `Linear(10, 32) -> BatchNorm1d ->
ReLU -> Dropout(0.3) -> Linear(32, 2)`. The synthetic data (labels from a noisy linear teacher)
is split 66 / 17 / 17 % into train, validation and test, and 40 further unlabeled rows stand
for "new data" to predict.

**What Lightning takes off your hands:** the three loops themselves (`validation_step`,
`test_step` and `predict_step` only say what to do with one batch), switching to eval mode
before each loop and back to train mode afterwards, disabling gradients, averaging the
logged per-batch losses weighted by batch size, and collecting the predictions of every batch
(`trainer.validate`, `trainer.test`, `trainer.predict`). **Fabric** moves the model and the
batches to the device; the loops, `model.eval()` and `torch.no_grad()` stay yours.

Every program records, inside each validation, test and prediction batch, what
`model.training`, `torch.is_grad_enabled()` and `torch.is_inference_mode_enabled()` were, and
returns what it saw. It also predicts twice on the same new data: in eval mode the two passes
must agree exactly.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning).
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Each program trained, validated after every epoch, then validated once more, tested, and
# predicted twice. Same seed, same data, same device and one torch thread for all.

from evidence import load
from evidence.views.topics import eval_loops as views

result = load("eval_loops").headline
result.stamp()

# %%
# ### What each program printed
#
# Lightning shows its model summary and progress bars, and `trainer.validate` and
# `trainer.test` print their own result tables. The epoch lines of the Lightning log come from
# the callback that collects its `history` (not counted: a Lightning user reads the losses on
# the progress bar, where `self.log(..., prog_bar=True)` puts them).

result.logs()

# %%
# ### Loss curves, overlaid
#
# The validation curve is the loss on the held-out validation split after each epoch, in eval
# mode. Where the lines coincide, the implementations computed the same numbers.

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did they compute the same thing?
#
# Final weights (including batch norm's running mean and variance, which a stray forward
# pass in train mode would change), the per-epoch validation loss, the test loss, every
# predicted probability and the modes observed inside the loops, each against plain PyTorch.
# Lightning's losses can differ from the plain loop's in the last digits: both add the
# batch-size weighted losses into a float32 tensor on the device, but Lightning divides that
# sum in float32 while the plain and Fabric loops read it with `.item()` and divide in Python
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
# ### Which mode were the loops really in?
#
# Recorded inside every batch of every evaluation pass. `validation during fit` is the
# validation run at the end of each training epoch (for Lightning also its sanity check before
# the first epoch); `validate` is the separate call after training (`trainer.validate` for
# Lightning, one more `evaluate(...)` call by hand).

views.modes_table(result)

# %%
# ### Test score and predictions
#
# The test split is used exactly once, after training. `repeated predictions` is the largest
# difference between two prediction passes over the same new rows: zero means dropout was off
# and batch norm did not depend on the batch.

views.scores_table(result)

# %%
# ### What forgetting `model.eval()` does
#
# In train mode dropout draws a new mask for every pass and batch norm normalises with the
# statistics of the batch itself, so two passes over the same rows disagree; in eval mode they
# agree exactly, which is what the `repeated predictions` column above shows. The test suite
# checks the other half at the published configuration: it disables `Module.eval` and sees the
# mode records of all three programs report `model.training == True`, their repeated
# predictions differ, and their validation loss change
# (`tests/test_eval_loops/test_eval_loops.py`).
#
# ### Time and memory
#
# Each run trains, validates after every epoch, validates once more, tests, and predicts twice.
# The timed runs are quiet (`verbose=False`): no program prints, and the `Trainer` shows no
# progress bar, model summary or result tables.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "Train mode is sticky"
#     `model.eval()` stays in force until `model.train()` is called. A hand-written loop that
#     validates must switch back to train mode at the start of the next epoch (the plain and
#     Fabric programs call `model.train()` at the top of each epoch). Lightning does both switches itself and,
#     since Lightning 2.2.0, puts every submodule back in the mode it had before `validate`,
#     `test` or `predict` (a submodule you froze with `.eval()` stays in eval mode).
#
# !!! note "Defaults the Lightning program changes"
#     - `logger=False` and `enable_checkpointing=False`: by default a `Trainer` writes a
#       `lightning_logs/` folder with a logger's files and a checkpoint, files this program's
#       reader did not ask for.
#     - `enable_progress_bar=verbose, enable_model_summary=verbose`, and `verbose=verbose` for
#       `trainer.validate` and `trainer.test` (their result tables): on from the command line,
#       off in the quiet runs the harness times, where no implementation prints anything.
#
#     The sanity check (`num_sanity_val_steps=2`) stays on. It validates two batches in eval
#     mode before training, inside `isolate_rng()`, so it changes neither the dropout masks
#     that follow nor batch norm's running statistics; it does add its batches to the records
#     of the `validation during fit` row above.
#
# !!! note "Lightning uses `inference_mode`, but not everywhere"
#     `trainer.validate`, `trainer.test` and `trainer.predict` run under
#     `torch.inference_mode()` (`Trainer(inference_mode=True)`, the default), while the
#     validation inside `trainer.fit` runs under `torch.no_grad()`, as the table above shows.
#     Tensors created under inference mode can never be used in autograd later; pass
#     `Trainer(inference_mode=False)` if your `*_step` needs that. The plain and Fabric loops
#     here use `torch.no_grad()` throughout.
#
# !!! note "Batch-size weighting"
#     `self.log("val_loss", loss)` in `validation_step` logs the epoch mean by default
#     (`on_epoch=True` in evaluation), weighted by the batch size it infers from the batch.
#     With 102 validation rows in batches of 32 the last batch holds 6 rows; an unweighted
#     mean of per-batch losses would over-count it. The plain loops weight by `len(x)`.
#
# ??? info "No global random numbers drawn by the loaders"
#     A `DataLoader` without a `generator=` draws one number from the global RNG every time it
#     is iterated, which shifts the dropout masks that follow. Each loader here gets its own
#     seeded generator, so the frameworks may iterate their loaders whenever they like and the
#     dropout masks during training still match the plain loop's exactly.

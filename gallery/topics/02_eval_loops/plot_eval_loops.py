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
(`trainer.test`, `trainer.predict`; `trainer.validate` runs the validation loop on its own).
**Fabric** moves the model and the batches to the device; the loops, `model.eval()` and
`torch.no_grad()` stay yours.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). Each trains, validates after every
# epoch, scores the test split once and predicts the new rows.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The final weights include batch norm's running mean and variance, which a stray forward pass
# in train mode would change; every predicted probability is compared too. Lightning's losses
# can differ from the plain loop's in the last digits: both add the batch-size weighted losses
# into a float32 tensor, but Lightning divides that sum in float32 while the plain and Fabric
# loops read it with `.item()` and divide in Python (float64).

from collections import Counter

from evidence import load
from evidence.programs import LABELS
from evidence.views import Code, table

runs = load("eval_loops")
result = runs.headline
result.executed()

# %%
# ### Loss curves, overlaid
#
# The validation curve is the loss on the held-out validation split after each epoch, in eval
# mode. Where the lines coincide, the implementations computed the same numbers.

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Which mode were the loops really in?
#
# Counted from the recorded calls (see *What each program did, call by call* below): every
# forward pass of the model, by the program's function that made it, with the model's mode
# and the grad mode at that moment. For the plain and Fabric programs, `evaluate` serves both
# the validation after each epoch and the test split; Lightning's `validation_step` count
# includes the two batches of its sanity check before training.

forwards = Counter((kind, event["by"], event["mode"], event["grad"])
                   for kind in result.kinds() for event in result.value(kind, "trace.events")
                   if event["op"] == "forward")
table(["implementation", "forward passes made in", "model mode", "grad mode", "passes"],
      [[LABELS[kind], Code(by), mode, Code(grad), n] for (kind, by, mode, grad), n in forwards.items()])

# %%
# ### Test score and predictions
#
# The test split is used exactly once, after training; its loss and accuracy are what
# `trainer.test` returns for Lightning and what `evaluate` returns for the others.

result.per_implementation({"test loss": "test_loss", "test accuracy": "test_acc",
                           "rows predicted": lambda found: len(found["predictions"])})

# %%

runs.verdicts("learned")

# %%
# ### What forgetting `model.eval()` does
#
# In train mode dropout draws a new mask for every pass and batch norm normalises with the
# statistics of the batch itself (and updates its running statistics), so the predictions
# change and so do the saved weights. The test suite checks that the comparison above would
# catch it: it disables `Module.eval` and sees every program's predictions, validation loss
# and batch-norm statistics change (`tests/test_eval_loops/test_eval_loops.py`).
#
# --8<-- "gallery/shared/costs.md"

result.costs()

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
# !!! note "Lightning uses `inference_mode`, but not everywhere"
#     `trainer.validate`, `trainer.test` and `trainer.predict` run under
#     `torch.inference_mode()` (`Trainer(inference_mode=True)`, the default), while the
#     validation inside `trainer.fit` runs under `torch.no_grad()`, as the grad-mode column
#     above shows. Tensors created under inference mode can never be used in autograd later; pass
#     `Trainer(inference_mode=False)` if your `*_step` needs that. The plain and Fabric loops
#     here use `torch.no_grad()` throughout.
#
# !!! note "The sanity check"
#     Before the first epoch the `Trainer` validates `num_sanity_val_steps=2` batches, in eval
#     mode and without gradients, inside `isolate_rng()`: it changes neither the dropout masks
#     that follow nor batch norm's running statistics, so the weights still match the plain
#     loop's exactly.
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

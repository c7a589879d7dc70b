"""
# Debugging switches

Four switches of Lightning's `Trainer` exist to find bugs quickly, and each has a short
hand-written equivalent in a plain loop:

| `Trainer` argument | what it does | by hand (plain PyTorch and Fabric) |
|---|---|---|
| `fast_dev_run=True` | one training batch, one validation batch, one epoch: a smoke test of the whole loop | `break` after the first batch of each loop, one epoch |
| `overfit_batches=N` | train on the first `N` training batches and validate on the first `N` validation batches, the same ones every epoch (shuffling off) | an unshuffled loader and `break` after `N` batches, in both loops |
| `limit_train_batches=N`, `limit_val_batches=M` | at most `N` training and `M` validation batches an epoch | `break` after `N` and `M` batches |
| `detect_anomaly=True` | autograd's anomaly mode: the backward pass stops at the first operation that produced NaN | `with torch.autograd.set_detect_anomaly(True):` around the loop |

The programs take the same options on the command line (`--fast-dev-run`,
`--overfit-batches N`, `--limit-train-batches N`, `--limit-val-batches M`, `--detect-anomaly`)
and one more to test the last switch: `--inject-nan-at-step N` replaces the loss of optimizer
step `N` by `sqrt(-loss)`, which is NaN, and whose backward is NaN as well.

**What Lightning takes off your hands:** the counting and the `break`s, turning shuffling off
when overfitting, and entering anomaly mode. **Fabric** gives you no switches: it is your loop,
so you write the same `break`s and the same context manager as in plain PyTorch.
"""

# %%
# ## The three programs
#
# <!-- implementations -->
#
# ## Executed in this build: a normal run
#
# Without any switch the three programs must train exactly alike, as in the minimal loop.

from evidence import load
from evidence.views.topics import debugging as views

runs = load("debugging")
result = runs.headline
result.stamp()

# %%
# ### What each program printed

result.logs()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did they compute the same thing?

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

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Each switch against its equivalent
#
# Every switch ran once more in each program. The table counts the training and validation
# batches that really ran (counted in Lightning's `on_train_batch_end` and `validation_step`,
# in the loops for the others) and compares the final weights with plain PyTorch's.

fast = runs["fast_dev_run"]
views.switch_table(result, fast, runs["overfit_batches"], runs["limit_batches"])

# %%
# ### What `overfit_batches` validates on
#
# Since Lightning 1.7.0, `overfit_batches=N` validates on the first `N` batches of the
# **validation** loader, not on the training batches (the version history is in the note
# below). The plain and Fabric loops validate on the first two batches of their validation
# loader; the validation losses of the three programs agree, so the `Trainer` did the same:

runs["overfit_batches"].parity()

# %%
# What each program printed with `fast_dev_run` (Lightning announces the mode in its log):

fast.logs()

# %%
# ## Catching an injected NaN
#
# With anomaly detection on and the loss of step 7 made NaN, each program stops in the
# backward pass of that step and reports the error and the forward line that produced the
# NaN. Anomaly mode raises a `RuntimeError` and issues a warning holding the traceback of the
# forward call; the programs keep the first line of the error and the last frame of that
# traceback.

anomaly = runs["detect_anomaly"]
anomaly.logs()

# %%
# The same numbers, side by side. The weights are those left after step 6, the last
# completed step, so the three programs must agree on them too.

views.caught_table(anomaly)

# %%

anomaly.parity()

# %%
# ### The same NaN without anomaly detection
#
# Nothing stops the run: the NaN gradient reaches Adam at step 7, every weight becomes NaN,
# and the run still finishes and reports `nan` losses. Neither the `Trainer` nor Fabric checks
# for it unless asked.

silent = runs["silent_nan"]
silent.logs()

# %%

silent.parity()

# %%
# ## Defaults the Lightning program changes
#
# - `num_sanity_val_steps=0`: by default the `Trainer` runs two validation batches before
#   training (the sanity check). They reach `validation_step`, so the Lightning program
#   would report two validation batches more than the plain loop ran (one with
#   `limit_val_batches=1`), and the table above compares exactly those counts. The tests
#   check the difference. (`fast_dev_run` skips the sanity check by itself.)
# - `logger=False`, `enable_checkpointing=False`: this page is not about logs or checkpoints,
#   so the program writes no `lightning_logs/` or `.ckpt` files the reader did not ask for.
# - `enable_progress_bar=verbose`, `enable_model_summary=verbose`: on when the program runs
#   from the command line (and in the logged runs above), off in the quiet timed runs, where
#   no program prints anything.
#
# ## Pitfalls
#
# !!! warning "`overfit_batches` validates on the validation loader"
#     In Lightning 2.6.6, `overfit_batches=N` sets both `limit_train_batches` and
#     `limit_val_batches` to `N` (`pytorch_lightning/trainer/setup.py`), so training uses the
#     first `N` training batches and validation the first `N` validation batches, the same
#     ones every epoch. Lightning's CHANGELOG traces how that came about: 0.8.0 introduced the
#     flag and used the training set for validation and testing as well ("overfit now uses
#     training set for all three"), 1.6.0 disabled the validation loop while overfitting, and
#     1.7.0 enabled it again ("Enable validation during overfitting"), on the validation
#     loader. A description of `overfit_batches` as training and validating on the same
#     batches does not hold from 1.6.0 on; the tests check what `validation_step` receives.
#
# !!! warning "`overfit_batches` turns shuffling off, with a warning"
#     If a loader shuffles, Lightning warns and swaps its sampler for a `SequentialSampler`:
#     the training loader, and during `fit` the validation loader too. The programs pass
#     `shuffle=False` when overfitting, so there is no warning and the plain loop sees the
#     same batches.
#
# !!! warning "`limit_val_batches=0` means no validation"
#     For the `Trainer`, `0` disables the loop and `None` (or `1.0`) means all batches; a float
#     is a fraction of the loader. The programs use `0` on the command line for "no limit" and
#     pass `None` to the `Trainer`.
#
# !!! note "`fast_dev_run` changes more than the batch count"
#     It forces one epoch and one step, switches off the loggers and checkpointing, skips the
#     sanity check and overrides `limit_*_batches`. Numbers from such a run are for finding
#     crashes, not for reporting.
#
# !!! note "Anomaly mode checks the backward pass only, and is slow"
#     A NaN in the forward pass is found when its gradient is computed; a NaN that never
#     reaches a gradient (a metric, say) goes unnoticed. The mode also records a traceback for
#     every operation, which is why Lightning prints a reminder that it slows training down.
#
# ??? info "Stopping a shuffled loader early changes the next epoch's order"
#     A `DataLoader` given its own `generator` draws the next epoch's permutation from it. A
#     plain `for` loop that runs to the end asks the sampler for one more item, which makes it draw
#     one more permutation (and use none of it); a loop that stops by count does not. With a training set that
#     is an exact multiple of the batch size, this made a plain loop and the `Trainer` shuffle
#     the second epoch differently while writing these pages; 409 rows in batches of 32 avoid
#     it. With `break`, both stop by count and agree.

"""
# Debugging switches

Four switches of Lightning's `Trainer` exist to find bugs quickly, and each has a short
hand-written equivalent in a plain loop:

| `Trainer` argument | what it does | by hand (plain PyTorch and Fabric) |
|---|---|---|
| `fast_dev_run=True` | one training batch, one validation batch, one epoch: a smoke test of the whole loop | one epoch, `islice(loader, 1)` in both loops |
| `overfit_batches=N` | train on the first `N` training batches and validate on the first `N` validation batches, the same ones every epoch (shuffling off) | an unshuffled loader and `islice(loader, N)`, in both loops |
| `limit_train_batches=N`, `limit_val_batches=M` | at most `N` training and `M` validation batches an epoch | `islice(train_loader, N)`, `islice(val_loader, M)` |
| `detect_anomaly=True` | autograd's anomaly mode: the backward pass stops at the first operation that produced NaN | `with torch.autograd.set_detect_anomaly(True):` around the loop |

The programs take the same options on the command line (`--fast-dev-run`,
`--overfit-batches N`, `--limit-train-batches N`, `--limit-val-batches M`, `--detect-anomaly`)
and one more to test the last switch: `--inject-nan-at-step N` replaces the loss of optimizer
step `N` by `sqrt(-loss)`, which is NaN, and whose backward is NaN as well. When anomaly mode
stops a run, each program catches the `RuntimeError`, prints it and returns its message
(`anomaly`) with the model as it was after the last completed step.

**What Lightning takes off your hands:** the counting, turning shuffling off when overfitting,
and entering anomaly mode. **Fabric** gives you no switches: it is your loop, so you write the
same `islice` and the same context manager as in plain PyTorch.
"""

# %%
# ## The three programs
#
# <!-- implementations -->
#
# ## Executed in this build: a normal run
#
# --8<-- "gallery/shared/executed.md"
#
# Without any switch the three programs must train exactly alike, as in the minimal loop.

from evidence import load

runs = load("debugging")
result = runs.headline
result.executed()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ## Each switch against its equivalent
#
# Every switch ran once more in each program. The optimizer steps the harness counted are the
# training batches that ran; the validation losses agree only if the same validation batches
# ran, and the final weights only if the same training batches did, in the same order.

switched = ("fast_dev_run", "overfit_batches", "limit_batches")
runs.verdicts("train_steps", "fast_dev_run_steps", "overfit_steps", "limit_steps",
              *(f"{name}:{path}:{kind}" for name in switched
                for path in ("state_dict", "history.val_loss") for kind in ("lightning", "fabric")))

# %%
# ### What `overfit_batches` validates on
#
# Since Lightning 1.7.0, `overfit_batches=N` validates on the first `N` batches of the
# **validation** loader, not on the training batches (the version history is in the pitfalls
# below). The plain and Fabric loops validate on the first two batches of their validation
# loader, and the checks above find the same validation losses in the Lightning run, so the
# `Trainer` did the same.
#
# What each program printed with `fast_dev_run` (Lightning announces the mode in its log):

runs["fast_dev_run"].logs()

# %%
# ## Catching an injected NaN
#
# With anomaly detection on and the loss of step 7 made NaN, each program stops in the
# backward pass of that step. Anomaly mode issues a warning holding the traceback of the
# forward call that produced the NaN (its last frame is the line `loss = torch.sqrt(-loss)`), then raises
# a `RuntimeError`, which each program prints:

anomaly = runs["detect_anomaly"]
anomaly.logs()

# %%
# Side by side: the steps completed before the catch, the message, and (below) the weights,
# which are those left after step 6 and must agree too.

anomaly.per_implementation({"completed optimizer steps": "steps", "anomaly (the RuntimeError)": "anomaly"})

# %%

runs.verdicts("anomaly_stops_at_step_7", *(f"detect_anomaly:{path}:{kind}" for path in ("state_dict", "anomaly")
                                           for kind in ("lightning", "fabric")))

# %%
# ### The same NaN without anomaly detection
#
# Nothing stops the run: the NaN gradient reaches Adam at step 7, the weights become NaN, and
# the run finishes the epoch and reports `nan` losses. Neither the `Trainer` nor Fabric checks
# for it unless asked.

silent = runs["silent_nan"]
silent.per_implementation({"optimizer steps": "steps", "train_loss": "history.train_loss.0",
                           "val_loss": "history.val_loss.0"})

# %%

runs.verdicts("silent_nan_runs_on")

# %%
# --8<-- "gallery/shared/costs.md"

result.costs()

# %%
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
#     is a fraction of the loader. The programs' command line leaves a limit out for "every
#     batch" and passes `None`.
#
# !!! note "`fast_dev_run` changes more than the batch count"
#     It forces one epoch and one step, switches off the loggers and checkpointing, skips the
#     sanity check and overrides `limit_*_batches`. Numbers from such a run are for finding
#     crashes, not for reporting.
#
# !!! note "The sanity check runs validation batches of its own"
#     By default (`num_sanity_val_steps=2`) the `Trainer` runs up to two validation batches
#     before training, one with `limit_val_batches=1`. They reach `validation_step`, so a
#     counter there sees more batches than the plain loop ran; what they log is discarded and
#     they run inside `isolate_rng()`, so the weights and the curves above are unchanged.
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
#     it. With `islice`, both stop by count and agree.

"""
# Early stopping

Stop training when the validation loss has not improved for `patience` epochs, where an
improvement must beat the best value so far by more than `min_delta`. The configuration
(Adam at `lr=0.03`, `patience=3`, `min_delta=0.002`, at most 20 epochs) really stops early:
the loss reaches its lowest values around epochs 4 and 7 and then wanders.

**What Lightning takes off your hands:** `EarlyStopping(monitor="val_loss", patience=...,
min_delta=...)` keeps the best score and the waiting count, checks after each epoch's
validation, sets `trainer.should_stop`, and saves its state in checkpoints so that a resumed
run continues the count. **Fabric** has no early stopping of its own: the rule is the same
dozen lines as in the plain program, and the loop ends with a `break`.

The rule, exactly as Lightning 2.x applies it for a metric to minimise: an epoch *improves* if
`val_loss + min_delta < best` (strictly); then `best = val_loss` and the count returns to 0.
Otherwise the count grows by one, and training stops when it reaches `patience`. A value that
is lower than the best but not by more than `min_delta` is **not** adopted as the new best.
A non-finite value stops training at once.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Each program ran once with its log captured, then under a memory probe, then three timed
# rounds alternating the order of the programs.

from evidence import load
from evidence.views.topics import early_stopping as views

result = load("early_stopping").headline
result.stamp()

# %%
# ### What each program printed
#
# With `verbose=True`, Lightning's callback reports each improvement and the stop.

result.logs()

# %%
# ### Where each implementation stopped
#
# `stopped_epoch` is the zero-based epoch after which training stopped (Lightning's
# `EarlyStopping.stopped_epoch`); the best score is the value the rule compares against.

views.stops_table(result)

# %%
# ### Did they stop at the same epoch?
#
# The headline compares `stopped_epoch` (an integer: any difference would be at least 1); the
# number of epochs run, the final weights and the validation losses are compared too.

result.parity()

# %%
# ### The rule, epoch by epoch
#
# The validation losses that plain PyTorch recorded, fed through its `EarlyStopper` again: the
# threshold an epoch had to beat, whether it did, and the waiting count. Epoch 7 is lower than
# epoch 4 but not by more than `min_delta`, so it does not reset the count.

views.rule_table(result)

# %%
# The same on a plot: the validation loss of every implementation, the threshold each epoch had
# to beat, and the stop.

views.rule_figure(result)

# %%
# ### Time and memory
#
# Every implementation ran the same eight epochs of the twenty allowed.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "Lightning's message says `>=`; the rule is `>`"
#     The improvement message reads "improved by 0.009 >= min_delta", but an improvement of
#     exactly `min_delta` does not count: the test suite pins this on values exactly
#     representable in float32.
#
# !!! note "When the check runs"
#     With validation every epoch (the default), Lightning 2.x runs the check in
#     `on_train_epoch_end`, after that epoch's validation; otherwise in `on_validation_end`.
#     Either way `patience` counts *checks*, so with `check_val_every_n_epoch=2` a patience of
#     3 means six epochs.
#
# !!! note "`min_epochs` wins"
#     `Trainer(min_epochs=...)` keeps training even when the callback asks to stop; the plain
#     loop here has no such floor.
#
# ??? info "float32 against float64"
#     Lightning compares the logged metric as a float32 tensor, the plain programs compare
#     Python floats. The values differ around the eighth digit (the parity table shows by how
#     much), far from any decision here (compare the "val_loss" and "must be below" columns
#     above); a configuration that lands that close to a threshold could stop at different epochs.

"""
# Early stopping

Stop training when the validation loss has not improved for `patience` epochs, where an
improvement must beat the best value so far by more than `min_delta`. The model and data are
those of the minimal loop, trained with Adam at a high learning rate so that the validation
loss goes up and down and the published configuration really stops early; where it stopped,
and which epochs decided it, is stated below from the run itself.

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
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: the default logger would write a
#     `lightning_logs/` folder and the default `ModelCheckpoint` a checkpoint every epoch,
#     files the reader did not ask for. The sanity-check validation and the rest stay at their
#     defaults (the sanity check logs nothing the callback sees: `EarlyStopping` skips it); the
#     progress bar and the model summary are on when the program runs from the command line
#     and off in the quiet, timed runs.
#
# ## Executed in this build
#
# Each program ran once with its log captured, then under a memory probe, then in timed
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

views.stop_summary(result)

# %%

views.stops_table(result)

# %%
# ### Did they stop at the same epoch?
#
# The headline compares `stopped_epoch` (an integer: any difference would be at least 1); the
# number of epochs run, the final weights and the validation losses are compared too.

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
# ### The rule, epoch by epoch
#
# The validation losses that plain PyTorch recorded, fed through the rule again: the threshold
# an epoch had to beat (`best − min_delta`), whether it did, and the waiting count. A loss can
# be lower than the best without being below the threshold; then it does not reset the count.

views.rule_table(result)

# %%
# The same on a plot: the validation loss of every implementation, the threshold each epoch had
# to beat, and the stop.

views.rule_figure(result)

# %%
# ### Time and memory
#
# Every implementation ran the epochs stated above, not the full budget.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "Lightning's message says `>=`; the rule is `>`"
#     The improvement message reads "improved by … >= min_delta = …" (the Lightning log
#     above), but an improvement of exactly `min_delta` does not count: the test suite pins
#     this on values exactly representable in float32.
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
#     The validation losses are the same float32 values on every side (each loop sums
#     `loss * len(x)` on the device in float32, as Lightning's epoch mean does; the parity
#     table shows the difference). The comparison is not: Lightning computes
#     `current + min_delta < best` on float32 tensors, the plain rule `value + min_delta < best`
#     on Python floats (float64). A loss within rounding distance of the threshold could
#     decide differently; none here is that close (compare the "val_loss" and "must be below"
#     columns above).

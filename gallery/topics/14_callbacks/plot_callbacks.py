"""
# Callbacks and hooks

Adding a behaviour to training that is not part of the model: here, recording the L2 norm of
all gradients at every optimizer step (after `backward`, before `step`) and the L2 norm of all
weights at the end of every epoch, plus the loss of every step. The network, data and optimizer
are those of [the minimal training loop](../01_minimal_loop/plot_minimal_loop.md).

- **Plain PyTorch** puts the two measurements inline, at the right place in the loop.
- **Lightning** owns the loop, so the behaviour goes in a `Callback` (`NormTracker`, passed as
  `Trainer(callbacks=[...])`) whose `on_before_optimizer_step` and `on_train_epoch_end` the
  Trainer calls. Logic that belongs to the model itself can override the same kind of hook on the
  `LightningModule`: here `on_train_batch_end` collects the per-step losses.
- **Fabric** keeps your loop, and with it the choice of where things happen; it offers a small
  callback mechanism: objects passed as `Fabric(callbacks=[...])` have their methods called by
  name with `fabric.call("on_before_optimizer_step", ...)`. You decide where the call goes.

**What Lightning takes off your hands here:** finding the place in the loop. The hook
`on_before_optimizer_step` is called at the one point where the gradients are complete and not
yet applied: once per accumulated step under `accumulate_grad_batches`, after unscaling under
mixed precision, before `gradient_clip_val` clips them. The same callback class works unchanged
with any LightningModule.
"""

# %%
# ## The three programs
#
# The highlighted lines are those a program does not share with its counterpart. The callback
# in the Lightning and Fabric programs calls the same `grad_norm` and `weight_norm` functions
# the plain loop calls inline. Every recorded value stays a tensor on the device until `run()`
# returns. Code that exists only so this site can run and compare the programs (the command
# line, the per-epoch `history` the page plots) sits between `# region: not counted` and
# `# endregion` and is left out of the line counts; the recording itself is the task and counts.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Each program ran once with its log captured, then under a memory probe, then timed rounds
# alternating the order of the programs. Same seed, same data, same device and one torch
# thread for all of them.

from evidence import load
from evidence.views.topics import callbacks as views

result = load("callbacks").headline
result.stamp()

# %%
# ### What each program printed
#
# Each epoch line includes the last gradient norm recorded in that epoch and the weight norm at
# its end, read back from what the callback (or the inline code) stored. Lightning also shows
# its model summary and progress bar; its epoch lines come from the callback that collects its
# `history` (not counted).

result.logs()

# %%
# ### The recorded gradient norms, step by step
#
# One point per optimizer step, from each implementation's own recording, overlaid. Where the
# markers sit on the same line, the hook saw exactly the gradients the plain loop saw.

views.per_step_figure(result)

# %%
# ### The per-epoch record, and the loss curves
#
# The weight norm is recorded once per epoch, in `on_train_epoch_end` (after that epoch's
# validation in all three programs).

result.plot("weight_norms", "history.train_loss", "history.val_loss",
            title="Per-epoch values of every implementation, overlaid", ylabel="value")

# %%
# ### Did they record the same thing?
#
# The headline check is the list of per-step gradient norms; then the final weights, the
# per-epoch weight norms, the per-step losses and the validation loss. Identical gradient norms
# at every step mean the Lightning and Fabric hooks fire at the same point of the step as the
# inline code: after the backward pass, before the optimizer changes the weights. The
# validation loss is the one value Lightning computes differently: `self.log(...)` divides its
# batch-size weighted float32 sum in float32, where the plain loop reads the float32 sum with
# `.item()` and divides in Python (float64), which can move the last digit.

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
# How many values each program recorded, and where the first and the last of them are:

views.records_table(result)

# %%
# ### Time and memory
#
# Calling a hook is a Python function call per step; on a network this small the fixed cost of
# the Trainer's loop dominates any difference the callback makes. The timed runs are quiet
# (`verbose=False`): no program prints, and the `Trainer` shows no progress bar or model
# summary; its sanity check is included.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "Callback hooks and LightningModule hooks of the same name"
#     For most hooks the Trainer calls every callback first and the `LightningModule`'s hook
#     after it (`on_before_optimizer_step` included). `on_train_epoch_end` is split: ordinary
#     callbacks, then the `LightningModule`, then the monitoring callbacks (every `Checkpoint`,
#     such as `ModelCheckpoint`, and `EarlyStopping`). A callback that reads a value the module computes
#     in the same hook sees the previous one.
#
# !!! note "Where a hook fires"
#     - `on_before_optimizer_step` sees the gradients after the backward pass and, with
#       `accumulate_grad_batches`, only once per accumulated step; under mixed precision they
#       are already unscaled, and they are **not yet clipped** (clipping follows the hook), so
#       the norm it records is the norm before `gradient_clip_val` acts.
#       `on_after_backward` fires after every backward pass instead.
#     - `on_train_epoch_end` runs **after** the epoch's validation loop in Lightning 2.x, so the
#       plain loop records its per-epoch value after validation too.
#     - The old `on_epoch_end` / `on_batch_end` hooks were deprecated in Lightning 1.6 and the
#       callback versions removed in 1.8; neither `Callback` nor `LightningModule` has them in
#       2.x. Use the `on_train_*` / `on_validation_*` forms.
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False` (by default a `Trainer` writes a
#     `lightning_logs/` folder this program's reader did not ask for), and the progress bar and
#     model summary follow the program's `verbose` switch: on from the command line, off in the
#     quiet timed runs. The sanity check stays on: it validates in eval mode without gradients
#     and takes no optimizer step, so no gradient norm is recorded during it and the counts in
#     the table above stay one per step.
#
# ??? info "Fabric's callbacks are plain objects"
#     `fabric.call(name, **kwargs)` calls `name` on every callback that has such a method and
#     drops keyword arguments a method does not accept. Nothing is called unless your loop calls
#     it, and there is no base class: a Lightning `Callback` expects `(trainer, pl_module, ...)`
#     and cannot be reused as it is.
#
# ??? info "A built-in alternative for gradient norms"
#     `pytorch_lightning.utilities.grad_norm(module, norm_type=2)` returns a dict with one norm
#     per parameter and the total under `"grad_2.0_norm_total"`; calling it from
#     `on_before_optimizer_step` and `self.log_dict(...)` is the documented way to log them.

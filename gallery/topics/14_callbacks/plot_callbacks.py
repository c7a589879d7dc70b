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
# returns the three records as lists, beside the trained network.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The plain and Fabric loops print the last gradient norm of each epoch and the weight norm at
# its end, read back from what the inline code or the callback stored; Lightning shows its
# progress bar instead.

from evidence import load

runs = load("callbacks")
result = runs.headline
result.executed()

# %%
# ### The recorded values, step by step
#
# One point per optimizer step from each implementation's own record, overlaid: where the
# markers sit on the same line, the hook saw exactly the gradients the plain loop saw, after
# the backward pass and before the optimizer changed the weights. The `compare` checks above
# put a number on it (`grad_norms`, `step_losses`).

result.plot("grad_norms", "step_losses", xlabel="optimizer step", ylabel="value",
            title="Per-step records of the inline code, the Lightning callback and the Fabric callback")

# %%
# ### The per-epoch record, and the loss curves
#
# The weight norm is recorded once per epoch, in `on_train_epoch_end` (after that epoch's
# validation in all three programs).

result.plot("weight_norms", "history.train_loss", "history.val_loss",
            title="Per-epoch values of every implementation, overlaid", ylabel="value")

# %%
# How many values each program recorded, with the first and the last of them. The sanity-check
# validation Lightning runs before training takes no optimizer step, so it adds no gradient
# norm: the counts stay one per step.

result.per_implementation({
    "optimizer steps": "steps",
    "gradient norms": lambda r: len(r["grad_norms"]),
    "first": "grad_norms.0",
    "last": "grad_norms.-1",
    "weight norms": lambda r: len(r["weight_norms"]),
    "last weight norm": "weight_norms.-1",
})

# %%

runs.verdicts("steps_of_6_epochs")

# %%
# --8<-- "gallery/shared/costs.md"
#
# Calling a hook is a Python function call per step; on a network this small the fixed cost of
# the Trainer's loop dominates any difference the callback makes.

result.costs()

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

"""
# Gradient clipping

Clipping limits how far one optimizer step can move the weights when a batch produces an
unusually large gradient. Two algorithms, applied between `backward()` and `optimizer.step()`:

- **by norm**: if the global L2 norm of all gradients exceeds `max_norm`, every gradient is
  multiplied by `max_norm / norm`, so the direction is kept and only the length shrinks
  (`torch.nn.utils.clip_grad_norm_`);
- **by value**: every gradient element is clamped to `[-clip_val, clip_val]`, which can change
  the direction (`torch.nn.utils.clip_grad_value_`).

The model and data are those of the minimal loop; the optimizer is SGD (learning rate 0.1,
momentum 0.9). Whoever clips also watches the gradient norm, so each program keeps, per
epoch, the largest global L2 norm of the gradients **before** clipping: the plain and Fabric
loops with `torch.nn.utils.get_total_norm` on the device (read once per epoch), the Lightning
module with Lightning's `grad_norm` utility in `on_before_optimizer_step` (which runs before the
Trainer clips), logged with `reduce_fx="max"`.

**What Lightning takes off your hands here:** `Trainer(gradient_clip_val=...,
gradient_clip_algorithm="norm" | "value")` clips at the right moment, after the gradients are
complete (and unscaled, under mixed precision) and before the step; the hook
`on_before_optimizer_step` sees the gradients before clipping, and
`pytorch_lightning.utilities.grad_norm` gives their norms per parameter and in total.
**Fabric** gives you `fabric.clip_gradients(model, optimizer, max_norm=...)` or `clip_val=...`,
which unscales mixed-precision gradients first and works with sharded models, where calling
`clip_grad_norm_` yourself would see only your shard.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). `--algorithm norm|value` and
# `--clip-val` choose the clipping.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The headline run clips the total norm at 0.2. All three clip in the same function of
# `torch.nn.utils`: the plain loop calls `clip_grad_norm_` / `clip_grad_value_` itself,
# Lightning's precision plugin and `fabric.clip_gradients` call them after unscaling.

from evidence import load

runs = load("grad_clipping")
result = runs.headline
result.executed()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Clipping by value
#
# The same three programs with `--algorithm value --clip-val 0.05`; logged run and memory run
# only, no timed rounds. A third run (`loose`) clips by norm at `1e9`, a threshold no gradient
# norm comes near (the figure below): the same training with clipping that never acts.

runs["value"].parity()

# %%
# ### The largest gradient norm of each epoch, before clipping
#
# One panel per run, the three implementations overlaid; the dashed line in the first panel is
# the threshold of clipping by norm. A point above it is an epoch in which clipping changed at
# least one step. Clipping by value does not look at the norm: its threshold bounds each element.

from evidence.views import figures

fig, axes = figures.panels(3)
for ax, name in zip(axes, ("norm", "value", "loose")):
    run = runs[name]
    for kind, norms in run.values("history.max_grad_norm").items():
        figures.overlay(ax, kind, range(1, len(norms) + 1), norms)
    figures.finish(ax, title=f"{name}, clip_val={run.params['clip_val']:g}", xlabel="epoch",
                   ylabel="largest L2 norm before clipping")
axes[0].axhline(result.params["clip_val"], color="black", linestyle=(0, (4, 3)), linewidth=1.2)
fig.suptitle("Largest gradient norm per epoch, before clipping, three implementations overlaid")
fig.tight_layout()

# %%
# ### Did clipping change anything?
#
# A threshold above every gradient would make clipping a no-op and the parity above
# meaningless. These checks compare the runs with each other.

runs.verdicts("norm_threshold_reached", "norm_clipping_changes_weights", "value_clipping_changes_weights",
              "norm_and_value_differ")

# %%
# --8<-- "gallery/shared/costs.md"

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "Measure before you clip"
#     `clip_grad_norm_` returns the norm *before* clipping; measuring `p.grad` after it gives
#     at most the threshold and hides how large the gradients were. In Lightning,
#     `on_before_optimizer_step` runs before the Trainer clips, so the norms it sees are the raw
#     ones.
#
# !!! warning "Clipping by hand while the Trainer clips"
#     Per optimizer step, Lightning runs `training_step`, `zero_grad`, `backward`,
#     `on_before_optimizer_step`, then `configure_gradient_clipping`, whose default calls
#     `self.clip_gradients` with the Trainer's `gradient_clip_val`, then the optimizer step. So:
#
#     - clipping by hand in **`on_before_optimizer_step`** while setting `gradient_clip_val`
#       clips twice, yours first, then the Trainer's;
#     - overriding **`configure_gradient_clipping`** replaces the Trainer's clipping: an override
#       that only clips by hand leaves `gradient_clip_val` unused; one that also calls
#       `self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)`, as the
#       hook's docstring shows, clips twice;
#     - clipping in **`training_step`** changes nothing when every batch is a step
#       (`accumulate_grad_batches=1`, the default and this program's): the step's gradients do not
#       exist yet there. It sees the previous step's gradients, which `zero_grad` discards before
#       `backward`, or none at all at the first step of an epoch (Lightning sets them to `None`
#       before validating). With `accumulate_grad_batches=N > 1` it does change the step: the
#       `Trainer` calls `zero_grad` only before the first micro-batch of a window
#       (`loops/optimization/automatic.py`, `_make_zero_grad_fn`), so `training_step` of every
#       later micro-batch sees the window's partial sum, and clipping it there shrinks what the
#       step adds up;
#     - `self.clip_gradients(optimizer, gradient_clip_val=x)` with an `x` other than the
#       Trainer's stops the run (`MisconfigurationException`: "Please use only one of them").
#
#     The tests of this topic run every case: clipping twice gives the weights of a plain loop
#     that clips by value and then by norm; clipping in `training_step`, even to `1e-6`, leaves
#     the weights bit for bit as the Trainer's clipping alone makes them, and changes them with
#     `accumulate_grad_batches=2`.
#
# !!! warning "Mixed precision"
#     With a `GradScaler` the gradients are scaled by the loss scale until `scaler.step()`; a
#     plain loop has to call `scaler.unscale_(optimizer)` before clipping, or the threshold is
#     compared with scaled values. Lightning and `fabric.clip_gradients` unscale first.
#
# !!! note "Defaults and limits"
#     `gradient_clip_val=None` (the default) means no clipping; `gradient_clip_algorithm=None`
#     (the default) clips by norm. With manual optimization (`self.automatic_optimization = False`)
#     the Trainer refuses `gradient_clip_val`; call `self.clip_gradients(optimizer, ...)` in
#     `training_step` instead.
#
# !!! note "Logging a maximum"
#     `self.log(..., on_epoch=True)` averages by default, weighting each value by the batch
#     size; `reduce_fx="max"` keeps the epoch's largest value instead, which is what a loop
#     that tracks `torch.maximum` computes.
#
# ??? info "Norm versus value"
#     Clipping by norm rescales all gradients by one factor, so the update keeps its
#     direction. Clipping by value clamps each element on its own: the update direction
#     changes, more so the lower the threshold.

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
momentum 0.9). Every program records, at each optimizer step and **before** clipping, the global
L2 norm of the gradients and their largest absolute element, the same way in all three
(`torch.nn.utils.get_total_norm`, kept on the device and read once at the end); in Lightning
that happens in `on_before_optimizer_step`, which runs before the Trainer clips.

**What Lightning takes off your hands here:** `Trainer(gradient_clip_val=...,
gradient_clip_algorithm="norm" | "value")` clips at the right moment, after the gradients are
complete (and unscaled, under mixed precision) and before the step; the hook
`on_before_optimizer_step` sees the gradients before clipping, and
`pytorch_lightning.utilities.grad_norm` gives their norms per parameter and in total, ready for
`self.log_dict(grad_norm(self, norm_type=2))`. **Fabric** gives you
`fabric.clip_gradients(model, optimizer, max_norm=...)` or `clip_val=...`, which unscales
mixed-precision gradients first and works with sharded models, where calling
`clip_grad_norm_` yourself would see only your shard.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). `--algorithm norm|value` and
# `--clip-val` choose the clipping. The blocks marked `# region: not counted` record what
# `run()` returns (the losses, the gradient sizes before clipping) or hold the command line; they
# are left out of the line counts.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: by default the `Trainer` writes logs and a
#     checkpoint under `lightning_logs/` in the working folder, files the reader did not ask for.
#     The progress bar and the model summary follow the quiet switch
#     (`enable_progress_bar=verbose`, `enable_model_summary=verbose`): on when the program runs from
#     the command line, off in the timed runs, where no program prints. Everything else is
#     Lightning's default, including the sanity check of two validation batches before training,
#     which leaves the numbers unchanged (the parity below).
#
# ## Executed in this build: clipping by norm
#
# The threshold (`max_norm`) is in the table further down. Each program ran once with its log
# captured, then under a memory probe, then timed rounds alternating the order of the programs.
# This is the page's headline run: the overview lists it.

from evidence import load
from evidence.views.topics import grad_clipping as views

runs = load("grad_clipping")
result = runs.headline
result.stamp()

# %%
# ### What each program printed
#
# The epoch losses. Run from the command line, each program also prints how many steps clipping
# changed; the table further down counts them from the gradient sizes the programs recorded.

result.logs()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did they compute the same thing?
#
# Final weights element by element, the gradient norm measured before clipping at every step,
# and the per-epoch validation loss. The clipping ends in the same function of `torch.nn.utils`
# in all three: the plain loop calls `clip_grad_norm_` / `clip_grad_value_` itself, Lightning's
# precision plugin and `fabric.clip_gradients` call them after unscaling.

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
# ## Executed in this build: clipping by value
#
# The same three programs with `--algorithm value` and its own threshold (`clip_val`, in the
# table further down); logged run and memory run only, no timed rounds.

by_value = runs["value"]
by_value.parity()

# %%
# ### Gradients before clipping, at every step
#
# Left: the global L2 norm under clipping by norm, with the threshold. Right: the largest
# absolute gradient element under clipping by value, with its threshold. Every point above the
# dashed line is a step that clipping changed.

views.sizes_figure(result, by_value)

# %%
# ### Did clipping change anything?
#
# A threshold above every gradient would make clipping a no-op and the parity above
# meaningless. The table counts, from the values each program recorded, the steps where the
# measured size was above the threshold, and gives the median size.

views.clipped_table(result, by_value)

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
#     Per optimizer step, Lightning (2.6.6 here) runs `training_step`, `zero_grad`, `backward`,
#     `on_before_optimizer_step`, then `configure_gradient_clipping`, whose default calls
#     `self.clip_gradients` with the Trainer's `gradient_clip_val`, then the optimizer step. So:
#
#     - clipping by hand in **`on_before_optimizer_step`** while setting `gradient_clip_val`
#       clips twice, yours first, then the Trainer's;
#     - overriding **`configure_gradient_clipping`** replaces the Trainer's clipping: an override
#       that only clips by hand leaves `gradient_clip_val` unused; one that also calls
#       `self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)`, as the
#       hook's docstring shows, clips twice;
#     - clipping in **`training_step`** changes nothing: the step's gradients do not exist yet
#       there. It sees the previous step's gradients, which `zero_grad` discards before
#       `backward`, or none at all at the first step of an epoch (Lightning sets them to `None`
#       before validating);
#     - `self.clip_gradients(optimizer, gradient_clip_val=x)` with an `x` other than the
#       Trainer's stops the run (`MisconfigurationException`: "Please use only one of them").
#
#     The tests of this topic run every case: clipping twice gives the weights of a plain loop
#     that clips by value and then by norm; clipping in `training_step`, even to `1e-6`, leaves
#     the weights bit for bit as the Trainer's clipping alone makes them.
#
# !!! warning "Mixed precision"
#     With a `GradScaler` the gradients are scaled by the loss scale until `scaler.step()`; a
#     plain loop has to call `scaler.unscale_(optimizer)` before clipping, or the threshold is
#     compared with scaled values. Lightning and `fabric.clip_gradients` unscale first.
#
# !!! note "Defaults and limits"
#     `gradient_clip_val=None` (the default) means no clipping; `gradient_clip_algorithm`
#     defaults to `"norm"`. With manual optimization (`self.automatic_optimization = False`)
#     the Trainer refuses `gradient_clip_val`; call `self.clip_gradients(optimizer, ...)` in
#     `training_step` instead.
#
# ??? info "Norm versus value"
#     Clipping by norm rescales all gradients by one factor, so the update keeps its
#     direction. Clipping by value clamps each element on its own: the update direction
#     changes, more so the lower the threshold.

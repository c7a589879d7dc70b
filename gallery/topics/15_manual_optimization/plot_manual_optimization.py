"""
# Manual optimization: two optimizers, alternating updates

Some training schemes do not fit "one loss, one `backward`, one `step`": a GAN updates a
discriminator and then a generator on every batch, each with its own optimizer. The example is
a small GAN that learns to produce 2-D points on a ring of radius 2 (500 real points, a
4-dimensional noise input, two small MLPs, Adam with `betas=(0.5, 0.999)` for both). On every
batch: one discriminator step on real points and on detached fakes, then one generator step
through the just-updated discriminator.

- **Plain PyTorch** writes the two updates one after the other. The generator's backward pass
  also fills the discriminator's `.grad` fields; the next `opt_d.zero_grad()` discards them.
- **Lightning** is switched to manual optimization with `self.automatic_optimization = False`.
  `training_step` then gets both optimizers from `self.optimizers()`, calls
  `self.manual_backward(loss)` instead of `loss.backward()`, and steps each optimizer itself.
  `toggle_optimizer(opt)` / `untoggle_optimizer(opt)` set `requires_grad=False` on every
  parameter that does not belong to `opt` for the duration of its update, so the generator's
  backward pass computes no gradients for the discriminator's weights.
- **Fabric** sets up each network with its optimizer (`fabric.setup(generator, opt_g)`,
  `fabric.setup(discriminator, opt_d)`) and leaves the alternating loop as it is, with
  `fabric.backward` for each loss.

**What Lightning takes off your hands here:** little of the step itself, which you write out
as in plain PyTorch; it still runs the epoch loop, moves batches to the device, averages the
logged losses, and makes `manual_backward` and `opt.step()` work under mixed precision and
distributed strategies (loss scaling, gradient synchronisation) without changes to the step.
"""

# %%
# ## The three programs
#
# The highlighted lines are those a program does not share with its counterpart. The blocks
# marked `# region: not counted` record what `run()` returns (the losses, the radius per epoch,
# the generated points, the optimizer steps) or hold the command line; they are left out of the
# line counts.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: by default the `Trainer` writes logs and a
#     checkpoint under `lightning_logs/` in the working folder, files the reader did not ask for.
#     The progress bar and the model summary follow the quiet switch
#     (`enable_progress_bar=verbose`, `enable_model_summary=verbose`): on when the program runs from
#     the command line, off in the timed runs, where no program prints. Everything else is
#     Lightning's default.
#
# ## Executed in this build
#
# Each program ran once with its log captured, then under a memory probe, then timed rounds
# alternating the order of the programs. Same seed, same data, same noise, same device and one
# torch thread for all of them.

from evidence import load
from evidence.views.topics import manual_optimization as views

result = load("manual_optimization").headline
result.stamp()

# %%
# ### What each program printed
#
# `fake_radius` is the mean distance from the origin of 256 points the generator makes from a
# fixed noise batch after each epoch; the real points lie at radius 2.

result.logs()

# %%
# ### Losses of both players, overlaid
#
# The discriminator's loss (real and fake terms summed) and the generator's loss, averaged over
# each epoch, plus the mean radius of the generated points.

result.plot("history.d_loss", "history.g_loss", "history.fake_radius", ylabel="value")

# %%
# ### Did they compute the same thing?
#
# The headline check is every weight of **both** networks (the state dict of a `ModuleDict`
# holding the generator and the discriminator), then the generated points, the per-epoch
# radius and the per-epoch losses. Every program sums `loss * batch size` over the epoch in a
# float32 tensor on the device; Lightning's `self.log(..., on_epoch=True)` then divides by the
# sample count in float32, the plain and Fabric loops in Python (float64) after one `.item()`.
# That is where a last-digit difference in `d_loss` / `g_loss` can come from, while the weights
# are bitwise identical.

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
# ### What the generators produce
#
# The points each trained generator makes from the same fixed noise, over the ring the real
# data lie on. The run is kept short on purpose, since the subject is the mechanics of the two
# updates, and it is far too short for a GAN to learn a ring; the three panels show the same
# points because the three generators hold the same weights.

views.generated_figure(result)

# %%
# How far the generator got, from the points it made:

views.generated_summary(result)

# %%
# Optimizer steps each program took (two per batch: one for each network), read from the
# results. Lightning's `trainer.global_step` counts every `step()` of every optimizer under
# manual optimization.

views.steps_table(result)

# %%
# ### Time and memory

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "The last, exactly full batch and the shuffling generator"
#     With 512 points and batches of 64 the Lightning run drifts from the plain one from the
#     second epoch on, although the first epoch is bitwise identical. A plain `for` loop asks
#     the `DataLoader` for one more batch after the last and gets `StopIteration`; to find out
#     it has no more indices, `RandomSampler` draws a further (empty) permutation from the
#     `generator=` it was given. Lightning knows `len(loader)` and stops after the last batch
#     without asking again, so that extra draw never happens and the next epoch's order differs.
#     When the last batch is partial, as with the 500 points used here, both exhaust the sampler
#     and the orders agree. The tests pin both cases. Fabric runs your own `for` loop and behaves
#     like plain PyTorch.
#
# !!! note "Manual optimization in Lightning 2.x"
#     - `training_step` no longer takes an `optimizer_idx` argument, and with automatic
#       optimization Lightning 2.x stops with "Training with multiple optimizers is only
#       supported with manual optimization" when `configure_optimizers` returns several.
#     - Call `self.manual_backward(loss)`, not `loss.backward()`: it applies the precision
#       plugin (loss scaling under 16-bit mixed precision) and the strategy's hooks.
#     - `trainer.global_step` counts optimizer steps, so it advances by two per batch here; a
#       `max_steps` limit is reached twice as fast as with one optimizer.
#     - The `Trainer` refuses `gradient_clip_val` and `accumulate_grad_batches > 1` under manual
#       optimization (a configuration error at `fit`); call `self.clip_gradients(opt, ...)` and
#       step every N batches yourself.
#
# ??? info "What toggling changes"
#     `toggle_optimizer` only switches `requires_grad`; it does not change the gradients of the
#     network being updated. That is why the plain loop, which does not toggle, ends with the
#     same weights: the discriminator gradients it computes during the generator step are
#     thrown away by `opt_d.zero_grad()` before they are used. Toggling saves computing them.
#     `with self.toggled_optimizer(opt):` is the context-manager form of the pair.

"""
# Manual optimization: two optimizers, alternating updates

Some training schemes do not fit "one loss, one `backward`, one `step`": a GAN updates a
discriminator and then a generator on every batch, each with its own optimizer. The example is
a small GAN that learns to produce 2-D points on a ring of radius 2 (500 real points, a
4-dimensional noise input, two small MLPs, Adam with `betas=(0.5, 0.999)` for both). On every
batch: one discriminator step on real points and on detached fakes, then one generator step
through the just-updated discriminator. After each epoch every program measures the mean
distance from the origin (`fake_radius`) of 256 points the generator makes from a fixed noise
batch, and `run()` returns the trained networks and those 256 points (`samples`).

- **Plain PyTorch** writes the two updates one after the other. The generator's backward pass
  also fills the discriminator's `.grad` fields; the next `opt_d.zero_grad()` discards them.
- **Lightning** is switched to manual optimization with `self.automatic_optimization = False`.
  `training_step` then gets both optimizers from `self.optimizers()`, calls
  `self.manual_backward(loss)` instead of `loss.backward()`, and steps each optimizer itself.
  `toggle_optimizer(opt)` / `untoggle_optimizer(opt)` set `requires_grad=False` on every
  parameter that does not belong to `opt` for the duration of its update, so the generator's
  backward pass computes no gradients for the discriminator's weights. The per-epoch
  measurement is a `validation_step` over a one-batch loader of the fixed noise: Lightning
  runs it after every training epoch in eval mode without gradients, as the plain loop does by hand.
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
# The highlighted lines are those a program does not share with its counterpart.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The headline check is every weight of **both** networks (the state dict of a `ModuleDict`
# holding the generator and the discriminator), then the generated points, the per-epoch
# radius and the per-epoch losses. Every program sums `loss * batch size` over the epoch in a
# float32 tensor on the device; Lightning's `self.log(..., on_epoch=True)` then divides by the
# sample count in float32, the plain and Fabric loops in Python (float64) after one `.item()`.
# That is where a last-digit difference in `d_loss` / `g_loss` can come from.

from evidence import load

gan = load("manual_optimization")
result = gan.headline
result.executed()

# %%
# ### Losses of both players, and the radius of what the generator makes
#
# The discriminator's loss (real and fake terms summed) and the generator's loss, averaged over
# each epoch, then the mean radius of the generated points (the real points lie at radius 2).

result.plot("history.d_loss", "history.g_loss", "history.fake_radius", ylabel="value")

# %%
# Two optimizer steps per batch, one for each network, counted by the harness through PyTorch's
# optimizer-step hook in every program; and the direction the generator took:

gan.verdicts("two_steps_per_batch", "generator_moves_out")

# %%
# ### What the generators produce
#
# The points each trained generator makes from the same fixed noise (`samples`), over the ring
# the real data lie on. The run is kept short on purpose, since the subject is the mechanics of
# the two updates; the panels agree because the generators hold the same weights.

import math

from evidence.programs import LABELS
from evidence.views import figures

ring = [2 * math.pi * i / 120 for i in range(121)]
fig, axes = figures.panels(len(result.kinds()), width=4.0, height=4.0, sharex=True, sharey=True)
for kind, ax in zip(result.kinds(), axes):
    ax.plot([2 * math.cos(t) for t in ring], [2 * math.sin(t) for t in ring], color="0.6", linewidth=6,
            alpha=0.4, label="real data (radius 2)")
    xs, ys = zip(*result.value(kind, "samples"))
    ax.scatter(xs, ys, s=8, color=figures.style(kind)["color"], label="generated")
    ax.set_aspect("equal")
    figures.finish(ax, title=LABELS[kind], legend=kind == result.kinds()[0])
fig.suptitle("Points generated from the same fixed noise by each trained generator")
fig.tight_layout()

# %%
# The numbers behind the figure, per program:

result.per_implementation({"optimizer steps": "steps", "fake_radius, first epoch": "history.fake_radius.0",
                           "fake_radius, last epoch": "history.fake_radius.-1"})

# %%
# --8<-- "gallery/shared/costs.md"

result.costs()

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
#
# ??? info "The sanity check runs the generator once more"
#     Before the first epoch the `Trainer` runs up to two validation batches (here the one batch
#     of fixed noise) as a sanity check, and discards what they log. It runs without gradients
#     inside `isolate_rng()`, so it changes neither the weights nor any random number generator.

"""
# What Lightning's defaults cost, one feature at a time

Many "Lightning is slower" reports compare a plain loop with a `Trainer` left at its defaults:
a progress bar refreshed every step, a logger, a checkpoint every epoch, a model summary and
two sanity-validation batches before training. This page times the same small model
(the overhead-dominated end of the [sweep](../01_overhead/plot_overhead.md)) trained with:

- plain PyTorch and Fabric, for reference;
- `Trainer()` at its **defaults**, `Trainer(barebones=True)`, and a `Trainer` **matched** to the
  plain loop (all of the above off);
- the matched `Trainer` with **one** default feature switched back on: the TQDM progress bar,
  the Rich progress bar, `self.log` with the default logger every 50 steps (the default
  `log_every_n_steps`) and every step, `self.log(..., sync_dist=True)`, checkpointing, the model
  summary, sanity validation.

All programs validate once per epoch (sanity validation needs a validation loop), so the
plain loop does the same work as the matched `Trainer`. The method is that of the
[overhead page](../01_overhead/plot_overhead.md): warm-up dropped, rounds in rotating order,
weights compared after every run. Each feature's cost is its difference from the matched
`Trainer` in the same round.
"""

# %%
# ## Executed in this build

from evidence.benchmarks.views import benchmark

bench = benchmark("defaults")
bench.stamp()

# %%
# ### What a default `Trainer` holds in this environment
#
# The defaults depend on what is installed: with `rich` installed, Lightning picks its Rich
# progress bar and model summary. Read from `Trainer` objects built in this run:

bench.trainer_parts_table()

# %%
# ### Default, barebones and matched `Trainer` against plain PyTorch
#
# Per step: the timed window (training steps and the validation at each epoch end). Per run:
# one complete call, start-up included, so one-off costs (summary, sanity check, the first
# checkpoint directory) show here.

bench.programs_table()

# %%
# ### The cost of each default feature
#
# Each row is the matched `Trainer` with one feature on, against the matched `Trainer` of the
# same round: the median of the rounds' differences, with a 95 % bootstrap interval over the
# rounds. A row whose interval holds zero says "no measurable difference": on this machine
# and at this size the feature's cost is within the noise, whatever the sign of the median.

bench.features_table()

# %%
# The same costs, drawn. The bars span the rounds' interquartile range.

fig = bench.features_figure()

# %%
# ### What the default and barebones `Trainer` printed
#
# From the warm-up run (the progress bar's output is written to a captured stream, not a
# terminal; see the pitfalls below).

bench.logs()

# %%
# ### Did every variant compute the same weights?

bench.checks()

# %%
# ### Results from other machines

bench.committed()

# %%
# ## Pitfalls
#
# !!! note "Progress bars measured without a terminal"
#     The build captures what the programs print, so the bars write to a buffer, not a
#     terminal. The two bars also refresh differently: `TQDMProgressBar` updates its bar every
#     `refresh_rate` steps (default 1) in the training loop, while `RichProgressBar` redraws from a
#     background thread `refresh_rate` times per second, and only softly when the console is
#     not interactive. In a terminal, drawing costs more; raise `refresh_rate` or turn the bar
#     off for short steps.
#
# !!! note "`sync_dist=True` on one device"
#     With one process, Lightning's reduction goes to the single-device strategy, which returns
#     the value unchanged: the row shows the cost of the logging call itself (the same as the
#     logging row, within the noise). With several processes it adds a collective for each
#     logged value.
#
# !!! note "One-off features"
#     The model summary and the sanity check run once per `fit`: they belong to the per-run
#     column, and matter for short runs, tests and notebooks rather than long trainings.
#
# !!! tip "Getting a fair comparison"
#     `Trainer(barebones=True)` switches every such feature off at once and refuses
#     `self.log`; the matched settings used across this site switch them off one by one and
#     keep logging available.

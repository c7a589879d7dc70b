"""
# Start-up: imports, construction and the first step

Costs paid once per script or once per run, kept apart from the per-step overhead:

- **import time**, each framework imported in a fresh Python interpreter (the time of the
  `import` statement itself, not of starting Python); `pytorch_lightning` and
  `lightning_fabric` import `torch`, so their figures include it;
- **construction** of a `Trainer` (with the settings matched to a plain loop, and with its
  defaults) and of a `Fabric` object;
- the **first steps of a run** of the tiny MLP from the [sweep](../01_overhead/plot_overhead.md):
  from the constructed object to the start of the first step (Lightning's `fit` set-up,
  Fabric's `setup` calls, the first batch), then the first step, against a steady-state step.

Runs alternate between the programs; each figure is the median of the rounds with its IQR.
The very first run of each program in the process (lazy imports, first allocations) is shown
separately.
"""

# %%
# ## Executed in this build

from evidence.benchmarks.views import benchmark

bench = benchmark("startup")
bench.stamp()

# %%
# ### Import time in a fresh interpreter

bench.imports_table()

# %%
# ### Building the `Trainer` or the `Fabric` object

bench.construction_table()

# %%
# ### The first steps of a run
#
# "Set-up" runs from the constructed object to the first step; "per run" is one complete call
# of the program (model, data loader, construction, training of the short run).

bench.phases_table()

# %%
# The first run of each program in this process, before any was repeated:

bench.first_run_table()

# %%
# Start-up drawn as stacked phases (medians):

fig = bench.phases_figure()

# %%
# ### Did the short runs compute the same weights?

bench.checks()

# %%
# ### Results from other machines

bench.committed()

# %%
# ## Pitfalls
#
# !!! note "Imports dominate short scripts"
#     For a test suite or a notebook cell that trains for a few seconds, the import of
#     `pytorch_lightning` can cost more than the training. Its figure includes `torch`; the
#     difference between the two rows is what Lightning itself adds.
#
# !!! note "First run in a process"
#     The first `fit` in a process pays for lazy imports and first allocations inside Lightning
#     and torch; a second run in the same process does not. Timing a single run of a short
#     script measures mostly this.

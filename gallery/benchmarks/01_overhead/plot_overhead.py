"""
# Overhead per step, from a tiny MLP to a compute-bound one

How much longer does one training step take under Lightning's `Trainer` or under Fabric than in
the same plain PyTorch loop, and at what model size does the difference stop mattering?

**Workload.** An MLP `Linear(64, w) -> ReLU -> Linear(w, w) -> ReLU -> Linear(w, 10)`,
cross-entropy, Adam, batches of 64 from tensors in memory (`DataLoader`, no workers, no
shuffling), a few epochs. The width `w` is swept from a model where the framework's Python
work is most of a step to one where the matrix multiplications are. The Lightning `Trainer`
has the same features as the plain loop (no progress bar, logger, checkpointing, summary or
sanity validation); the cost of those defaults is on the [next page](../02_defaults/plot_defaults.md).

**Method.** As Lightning's parity tests do it: one thread (`torch.set_num_threads(1)`), data in
memory, warm-up dropped, runs repeated with the order of the three programs rotated every
round, and the final weights of every run compared with the plain loop's. Each run stamps the
time at the start of every step; the per-step time is the time from the start of the first
step after the warm-up to the end of training, divided by the steps in between. That window
holds everything the frameworks do between steps and at epoch boundaries, but not start-up
(measured on the [start-up page](../03_startup/plot_startup.md)). The overhead is taken per round
(a program against the plain loop of the same round), then summarised as a median with its
interquartile range.
"""

# %%
# ## Executed in this build
#
# On a CPU the times are the benchmark process's CPU time: the machine that builds this site
# is shared, and wall-clock would also count the time spent waiting for a core. Wall-clock is
# recorded as well (in the JSON results). On a CUDA GPU the times are wall-clock.

from evidence.benchmarks.views import benchmark

bench = benchmark("overhead")
bench.stamp()

# %%
# ### Time per step and overhead at each size

bench.overhead_table()

# %%
# ### Overhead against model size
#
# Left: the extra time per step in milliseconds. Right: the same as a share of the plain
# loop's step, with the 5 % and 1 % lines. Bars show the interquartile range of the rounds.

fig = bench.overhead_figure()

# %%
# ### Where the overhead falls under 5 % and 1 %
#
# Computed from the medians above: the smallest swept model from which the overhead stays
# under the threshold for every larger model, and where the line between it and the model
# before it crosses the threshold (interpolated in log size). A crossing that falls between
# two neighbouring models with overlapping spreads is only as precise as the spread allows.

bench.crossover_table()

# %%
# ### Peak memory
#
# One short run of each program per size, untimed, under the memory probe (peak resident set
# size growth on a CPU, `torch.cuda.max_memory_allocated` on CUDA); the process was warmed up
# first, and these runs are also the warm-up of each size's timed rounds.

bench.memory_table()

# %%
# ### Did every measured pair compute the same weights?

bench.checks()

# %%
# ### Results from other machines

bench.committed()

# %%
# ## Reading the numbers
#
# - What Lightning adds around a step is Python work that does not grow with the model (hooks,
#   the optimizer closure, progress tracking, result collection), so its share should shrink as
#   the step grows. At the large end the differences are small against the step and the rounds
#   scatter: read them with their IQR, and where the IQR spans zero the sweep could not resolve
#   the overhead on this machine. On a GPU, where steps are launched asynchronously, part of the
#   Python work can also hide behind the kernels.
# - Fabric does less per step: it wraps the model, the optimizer and the data loader and leaves the loop
#   to you.
# - The measurement includes the `DataLoader` (the same in all three programs), so a loop with a
#   cheaper data path would show a larger relative overhead on the smallest model.

"""
# Lightning's own parity benchmark, run and published

Lightning's repository checks its speed against plain PyTorch in
`tests/parity_pytorch/test_basic_parity.py` and asserts thresholds, but publishes no numbers.
This page runs its smallest case as the test defines it:

- **model** `ParityModuleRNN`: `LSTM(10, 20, batch_first=True)` then `Linear(20, 5)`,
  MSE loss, `Adam(lr=0.02)`;
- **data** `AverageDataset`: 300 sequences of 100 steps of 10 features, the target being the sum
  of each step's two halves (one rolled by a feature), batches of 30, in memory;
- **runs** `num_runs=3` of `num_epochs=4`, seeded with the run index; the first run trains one
  epoch and is dropped (quick configuration; the full one repeats more runs);
- **Lightning** `Trainer(enable_progress_bar=False, enable_model_summary=False,
  enable_checkpointing=False, logger=False, use_distributed_sampler=False, benchmark=False)`,
  and the plain loop calls the same module's `training_step` by hand, as the test does;
- **thresholds** for this model: Lightning may be at most **0.05 s per epoch** slower than the
  plain loop (the mean over the kept runs of `(lightning - mean(plain)) / num_epochs`), and use
  at most **0.1 %** more memory (`torch.cuda.max_memory_allocated`).

Two changes to the test's procedure, both for fairness: the runs alternate between the two
loops instead of running all Lightning runs first, and the final weights of each pair are
compared bit for bit (the test compares the last losses to five decimals). The durations
include everything the test times: building the module, the data and (for Lightning) the
`Trainer`, and the whole `fit`.
"""

# %%
# ## Executed in this build

from evidence.benchmarks.views import benchmark

bench = benchmark("parity_workload")
bench.stamp()

# %%
# ### The verdict

bench.verdict()

# %%
# ### Every run
#
# Durations of each run (the first one, of one epoch, is dropped by the test), the last loss
# of each, and wall-clock beside the time the verdict uses.

bench.runs_table()

# %%
# Drawn per epoch, with the threshold added to the plain loop's mean:

fig = bench.per_epoch_figure()

# %%
# ### Memory readings

bench.parity_memory_table()

# %%
# ### Did the two loops compute the same weights?
#
# Under the table, the test's own check: the last losses compared to five decimals.

bench.checks()

# %%
# ### Results from other machines

bench.committed()

# %%
# ## Reading the verdict
#
# The speed threshold is absolute: 0.05 s per epoch on an epoch of ten small LSTM steps. The
# durations include building the `Trainer` and the set-up of `fit`, which are paid once per
# run and then divided by four epochs, so most of what the test measures on this model is
# start-up rather than per-step overhead (see the [start-up page](../03_startup/plot_startup.md)).
# A slower CPU makes the same Lightning work take more seconds, so the verdict depends on the
# machine; the test was written for a CUDA machine.

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

from evidence.benchmarks.views import run_topic

bench = run_topic("benchmarks", params={"bench": "parity_workload"}, worker="evidence.benchmarks.worker")
bench.stamp()

# %%
# ### The verdict

from evidence.benchmarks import page
from evidence.views.topic import Html, table

speed, memory = bench["speed"], bench["memory"]
gpu = bench["device"] == "cuda"
mem_verdict = ("passes" if memory["passes"] else "fails") if memory["passes"] is not None else "undefined"
rows = [["speed", f"{speed['threshold_s']} s per epoch", f"{speed['value_s']:+.4f} s per epoch",
         f"<strong>{'passes' if speed['passes'] else 'fails'}</strong>"],
        ["memory", f"{100 * memory['threshold']:.1f} %",
         "–" if memory["value"] is None else f"{100 * memory['value']:+.2f} %",
         f"<strong>{mem_verdict}</strong>" + ("" if gpu else " (CPU reading; see below)")]]
verdict = table(["check", "Lightning's threshold", "measured (Lightning − plain)", "verdict"], rows,
                caption=f"{bench['environment']['pytorch_lightning']} on {bench['environment']['device_name']}, "
                        f"{bench['num_runs'] - 1} kept runs of {bench['num_epochs']} epochs each.")
note = ("" if gpu else
        "<p>The test itself only runs with a CUDA GPU (it is skipped otherwise) and reads memory with "
        "<code>torch.cuda.max_memory_allocated</code>, which has no CPU equivalent: on this CPU the memory row "
        "compares the growth of the process's resident set size instead, which also counts Python objects "
        "Lightning creates, so it is a stricter and noisier reading than the test's.</p>")
Html(verdict + note)

# %%
# ### Every run
#
# Durations of each run (the first one, of one epoch, is dropped by the test), the last loss
# of each, and wall-clock beside the time the verdict uses.

d, dw, losses = bench["durations_s"], bench["durations_wall_s"], bench["losses"]
rows = []
for i in range(bench["num_runs"]):
    rows.append([str(i), "dropped (1 epoch)" if i == 0 else "kept", page.fmt_s(d["pytorch"][i]), page.fmt_s(d["lightning"][i]),
                 f"{page.fmt_s(dw['pytorch'][i])} / {page.fmt_s(dw['lightning'][i])}",
                 f"{losses['pytorch'][i]:.6f} / {losses['lightning'][i]:.6f}"])
table(["run (seed)", "", "plain", "Lightning", "wall-clock plain / Lightning", "last loss plain / Lightning"], rows)

# %%
# Drawn per epoch, with the threshold added to the plain loop's mean:

import statistics

import matplotlib.pyplot as plt

kept = range(1, bench["num_runs"])
per_epoch = {k: [d[k][i] / bench["num_epochs"] for i in kept] for k in ("pytorch", "lightning")}
fig, ax = plt.subplots(figsize=(7, 3.6))
for k, marker in (("pytorch", "o"), ("lightning", "s")):
    ax.plot(list(kept), per_epoch[k], marker=marker, linestyle="", markersize=8, label=page.LABELS[k])
limit = statistics.fmean(per_epoch["pytorch"]) + speed["threshold_s"]
ax.axhline(limit, color="red", linestyle="-.", label="plain mean + 0.05 s (threshold)")
ax.set_xlabel("run")
ax.set_ylabel("seconds per epoch")
ax.set_xticks(list(kept))
ax.grid(alpha=0.3)
ax.legend()
ax.set_title("ParityModuleRNN: time per epoch, plain loop and Lightning")
fig.tight_layout()

# %%
# ### Memory readings

m = bench["memory_bytes"]
table(["loop", "readings", "mean"], [[page.LABELS[k], ", ".join(page.fmt_bytes(x) for x in v),
                                     page.fmt_bytes(statistics.fmean(v))] for k, v in m.items()],
      caption=f"{bench['memory_kind']} during one 4-epoch run (seed 1), two runs per loop, alternating.")

# %%
# ### Did the two loops compute the same weights?

Html(bench.checks() + f"<p>Last losses equal to five decimals (the test's own check): "
     f"<strong>{bench['losses_equal_5_decimals']}</strong>.</p>")

# %%
# ### Results from other machines

page.committed_table("parity_workload")

# %%
# ## Reading the verdict
#
# The speed threshold is absolute: 0.05 s per epoch on an epoch of ten small LSTM steps. The
# durations include building the `Trainer` and the set-up of `fit`, which are paid once per
# run and then divided by four epochs, so most of what the test measures on this model is
# start-up rather than per-step overhead (see the [start-up page](../03_startup/plot_startup.md)).
# A slower CPU makes the same Lightning work take more seconds, so the verdict depends on the
# machine; the test was written for a CUDA machine.

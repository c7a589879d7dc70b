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

from evidence.benchmarks.views import run_topic

bench = run_topic("benchmarks", params={"bench": "overhead"}, worker="evidence.benchmarks.worker")
bench.stamp()

# %%
# ### Time per step and overhead at each size

from evidence.benchmarks import page
from evidence.views.topic import table

sizes = bench["sizes"]
rows = []
for s in sizes:
    w, ps, oh = s["workload"], s["per_step_ms"], s["overhead"]
    rows.append([f"{w['width']}", page.fmt_params(w["parameters"]), f"{w['steps'] - w['warmup']} × {s['rounds']}",
                 page.spread_text(ps["pytorch"]), page.spread_text(ps["lightning"]), page.spread_text(ps["fabric"]),
                 f"{oh['lightning']['ms']['median']:+.3g} ms ({oh['lightning']['pct']['median']:+.1f} %)",
                 f"{oh['fabric']['ms']['median']:+.3g} ms ({oh['fabric']['pct']['median']:+.1f} %)"])
table(["width", "parameters", "timed steps × rounds", "PyTorch per step", "Lightning per step", "Fabric per step",
       "Lightning overhead", "Fabric overhead"], rows,
      caption="Median over the rounds (IQR in brackets); overheads are medians of per-round "
              "differences against the plain loop of the same round.")

# %%
# ### Overhead against model size
#
# Left: the extra time per step in milliseconds. Right: the same as a share of the plain
# loop's step, with the 5 % and 1 % lines. Bars show the interquartile range of the rounds.

import matplotlib.pyplot as plt

params = [s["workload"]["parameters"] for s in sizes]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for kind, style in (("lightning", dict(marker="s", linestyle="--")), ("fabric", dict(marker="^", linestyle=":"))):
    for ax, unit in zip(axes, ("ms", "pct")):
        med = [s["overhead"][kind][unit]["median"] for s in sizes]
        lo = [m - s["overhead"][kind][unit]["q1"] for m, s in zip(med, sizes)]
        hi = [s["overhead"][kind][unit]["q3"] - m for m, s in zip(med, sizes)]
        ax.errorbar(params, med, yerr=[lo, hi], label=page.LABELS[kind], capsize=3, **style)
for ax in axes:
    ax.set_xscale("log")
    ax.set_xlabel("model parameters")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.grid(alpha=0.3)
axes[0].set_ylabel("extra time per step (ms)")
axes[1].set_ylabel("extra time per step (% of plain PyTorch)")
axes[1].set_yscale("symlog", linthresh=1)
for t in (5, 1):
    axes[1].axhline(t, color="red", linewidth=0.8, linestyle="-.")
axes[0].legend()
axes[0].set_title("Overhead per step (ms)")
axes[1].set_title("Overhead per step (% of the plain step)")
fig.suptitle("Per-step overhead of Lightning and Fabric against the same plain PyTorch loop")
fig.tight_layout()

# %%
# ### Where the overhead falls under 5 % and 1 %
#
# Computed from the medians above: the smallest swept model from which the overhead stays
# under the threshold for every larger model, and where the line between it and the model
# before it crosses the threshold (interpolated in log size). A crossing that falls between
# two neighbouring models with overlapping spreads is only as precise as the spread allows.

rows = []
for kind in ("lightning", "fabric"):
    for threshold in ("5.0", "1.0"):
        c = bench["crossover"][kind][threshold]
        if not c["reached"]:
            answer, where = "not reached in the sweep", f"still ≥ {c['threshold_pct']:g} % at {page.fmt_params(params[-1])}"
        elif c["below_from_smallest"]:
            answer, where = "already below at the smallest model", page.fmt_params(c["size"])
        else:
            answer = f"{page.fmt_params(c['size'])} parameters (swept model)"
            where = f"≈ {page.fmt_params(c['interpolated'])} parameters"
        rows.append([page.LABELS[kind], f"{float(threshold):g} %", answer, where])
table(["framework", "threshold", "first swept size below (and staying below)", "interpolated crossing"], rows)

# %%
# ### Peak memory
#
# One short run of each program per size, untimed, under the memory probe (peak resident set
# size growth on a CPU, `torch.cuda.max_memory_allocated` on CUDA); the process was warmed up
# first, and these runs are also the warm-up of each size's timed rounds.

rows = [[page.fmt_params(s["workload"]["parameters"])] + [page.fmt_bytes(s["memory_bytes"][k]) for k in page.LABELS]
        for s in sizes]
table(["parameters"] + list(page.LABELS.values()), rows, caption=f"{bench['memory_kind']} during a run of "
      f"{sizes[0]['memory_steps']}–{sizes[-1]['memory_steps']} steps.")

# %%
# ### Did every measured pair compute the same weights?

bench.checks()

# %%
# ### Results from other machines

page.committed_table("overhead")

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

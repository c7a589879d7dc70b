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

from evidence.benchmarks.views import run_topic

bench = run_topic("benchmarks", params={"bench": "startup"}, worker="evidence.benchmarks.worker")
bench.stamp()

# %%
# ### Import time in a fresh interpreter

from evidence.benchmarks import page
from evidence.views.topic import table

imports = bench["imports_s"]
table(["framework", "module", "import time", "wall-clock", "imports"],
      [[n, f"<code>import {bench['import_modules'][n]}</code>", page.spread_text(s, page.fmt_s),
        page.fmt_s(bench["imports_wall_s"][n]["median"]), str(s["runs"])] for n, s in imports.items()])

# %%
# ### Building the `Trainer` or the `Fabric` object

table(["object", "construction"], [[n, page.spread_text(s, page.fmt_s)] for n, s in bench["construct_s"].items()],
      caption=f"Median (IQR) of {bench['rounds']} constructions each, after one dropped.")

# %%
# ### The first steps of a run
#
# "Set-up" runs from the constructed object to the first step; "per run" is one complete call
# of the program (model, data loader, construction, training of the short run).

phases = bench["phases_s"]
w = bench["workload"]
rows = []
for kind, ph in phases.items():
    rows.append([page.LABELS[kind], page.spread_text(ph["construct"], page.fmt_s),
                 page.spread_text(ph["to_first_step"], page.fmt_s), page.spread_text(ph["first_step"], page.fmt_s),
                 page.spread_text(ph["per_step"], page.fmt_s), page.spread_text(ph["run"], page.fmt_s)])
table(["program", "construction", "set-up to first step", "first step", "later steps (each)", "per run"], rows,
      caption=f"Short runs of the {page.fmt_params(w['parameters'])}-parameter MLP ({w['steps']} steps), "
              f"{bench['rounds']} rounds.")

# %%
# The first run of each program in this process, before any was repeated:

first = bench["first_in_process"]
table(["program", "set-up to first step", "first step", "per run"],
      [[page.LABELS[k], page.fmt_s(v[f"to_first_step{'_cpu' if bench['basis'] == 'cpu' else ''}_s"]),
        page.fmt_s(v[f"first_step{'_cpu' if bench['basis'] == 'cpu' else ''}_s"]),
        page.fmt_s(v[f"run{'_cpu' if bench['basis'] == 'cpu' else ''}_s"])] for k, v in first.items()])

# %%
# Start-up drawn as stacked phases (medians):

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(9, 3.4))
kinds = list(phases)
left = [0.0] * len(kinds)
for phase, colour in (("construct", "#4c72b0"), ("to_first_step", "#dd8452"), ("first_step", "#55a868")):
    widths = [1000 * phases[k][phase]["median"] for k in kinds]
    ax.barh([page.LABELS[k] for k in kinds], widths, left=left, label=phase.replace("_", " "), color=colour)
    left = [a + b for a, b in zip(left, widths)]
ax.set_xlabel("milliseconds")
ax.legend(loc="lower right")
ax.grid(alpha=0.3, axis="x")
ax.set_title("From constructing the trainer to the end of the first step")
fig.tight_layout()

# %%
# ### Did the short runs compute the same weights?

bench.checks()

# %%
# ### Results from other machines

page.committed_table("startup")

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

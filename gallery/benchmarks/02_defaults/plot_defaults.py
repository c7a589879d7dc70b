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

from evidence.benchmarks.views import run_topic

bench = run_topic("benchmarks", params={"bench": "defaults"}, worker="evidence.benchmarks.worker")
bench.stamp()

# %%
# ### What a default `Trainer` holds in this environment
#
# The defaults depend on what is installed: with `rich` installed, Lightning picks its Rich
# progress bar and model summary. Read from `Trainer` objects built in this run:

from evidence.benchmarks import page
from evidence.views.topic import table

parts = bench["trainer_parts"]
table(["settings", "callbacks", "logger", "log_every_n_steps", "num_sanity_val_steps"],
      [[f"<code>{v}</code>", ", ".join(p["callbacks"]) or "none", str(p["logger"]), str(p["log_every_n_steps"]),
        str(p["num_sanity_val_steps"])] for v, p in parts.items()])

# %%
# ### Default, barebones and matched `Trainer` against plain PyTorch
#
# Per step: the timed window (training steps and the validation at each epoch end). Per run:
# one complete call, start-up included, so one-off costs (summary, sanity check, the first
# checkpoint directory) show here.

w = bench["workload"]
rows = []
for name in ("pytorch", "fabric", "lightning:matched", "lightning:barebones", "lightning:default"):
    per_step, run_s = bench["per_step_ms"][name], bench["run_s"][name]
    vs = bench["versus_pytorch"].get(name)
    rows.append([page.label(name), page.spread_text(per_step), page.spread_text(run_s, page.fmt_s),
                 "reference" if vs is None else f"{vs['per_step']['ms']['median']:+.3g} ms ({vs['per_step']['pct']['median']:+.0f} %)",
                 "reference" if vs is None else f"{page.fmt_s(vs['run']['ms']['median'] / 1000)}"])
table(["program", "per step", "per run", "extra per step vs PyTorch", "extra per run vs PyTorch"], rows,
      caption=f"MLP width {w['width']} ({page.fmt_params(w['parameters'])} parameters), {w['batches']} batches × "
              f"{w['epochs']} epoch(s), {w['val_batches']} validation batches per epoch; median (IQR) of "
              f"{bench['rounds']} rounds.")

# %%
# ### The cost of each default feature
#
# Each row is the matched `Trainer` with one feature on, against the matched `Trainer` of the
# same round. Negative values mean no cost was measurable above the noise.

features = bench["features"]
rows = []
for name, cost in features.items():
    rows.append([name.replace("_", " "), bench["variants"][name]["what"],
                 f"{cost['per_step']['ms']['median']:+.3g} ms ({cost['per_step']['pct']['median']:+.0f} %)",
                 f"{page.fmt_s(cost['run']['ms']['median'] / 1000)}"])
table(["feature", "setting", "extra per step", "extra per run"], rows)

# %%
# The same costs, drawn. The bars span the rounds' interquartile range.

import matplotlib.pyplot as plt

names = list(features)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, key, unit in ((axes[0], "per_step", "extra time per step (ms)"), (axes[1], "run", "extra time per run (ms)")):
    med = [features[n][key]["ms"]["median"] for n in names]
    lo = [m - features[n][key]["ms"]["q1"] for m, n in zip(med, names)]
    hi = [features[n][key]["ms"]["q3"] - m for m, n in zip(med, names)]
    ax.barh(names, med, xerr=[lo, hi], color="#7b61c4", alpha=0.8, capsize=3)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(unit)
    ax.grid(alpha=0.3, axis="x")
axes[0].set_title("per step")
axes[1].set_title("per complete run")
fig.suptitle("Cost of each Lightning default feature over a matched Trainer")
fig.tight_layout()

# %%
# ### What the default and barebones `Trainer` printed
#
# From the warm-up run (the progress bar's output is written to a captured stream, not a
# terminal; see the pitfalls below).

for name, text in bench["logs"].items():
    print(f"──── {page.label(name)} " + "─" * 30)
    print(text.rstrip())
    print()

# %%
# ### Did every variant compute the same weights?

bench.checks()

# %%
# ### Results from other machines

page.committed_table("defaults")

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

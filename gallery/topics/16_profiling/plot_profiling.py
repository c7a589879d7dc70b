"""
# Profiling

Where does the time of a training run go? The network and data are those of
[the minimal training loop](../01_minimal_loop/plot_minimal_loop.md), on 128 points, profiled
three ways:

- **Plain PyTorch** wraps its loop in `torch.profiler.profile(...)` and labels its own
  sections with `record_function("training_step")`, `"backward"`, `"optimizer_step"`, ...;
  after training it writes the profiler's two usual outputs to `--out-dir`: the operator table
  of `key_averages().table(...)` (`profile.txt`, also printed) and a Chrome trace
  (`export_chrome_trace`, `trace.json`, which `chrome://tracing` or Perfetto open).
- **Lightning** takes a `profiler=` argument. `PyTorchProfiler` (the program's default) runs
  `torch.profiler` over the fit and labels every Lightning action as a range, so the
  operators appear nested under the hooks that called them; `SimpleProfiler`
  (`--profiler simple`) times every Lightning action (each hook, each loop step) with a wall
  clock. Given a `dirpath` and a `filename`, either writes its report to
  `<dirpath>/fit-<filename>.txt` instead of printing it when `fit` ends, and
  `PyTorchProfiler` writes a Chrome trace beside it.
- **Fabric** has no profiler of its own: the loop is yours, so `torch.profiler` goes around
  it exactly as in plain PyTorch.

The tables on this page are read from the files the programs wrote: each Chrome trace,
summarised by event name (calls, total time, and self time: an event's time less that of the
events directly inside it), and the text reports as written.

**What Lightning takes off your hands here:** labelling. Every hook and loop stage is
already named and timed; with the plain loop you choose and label the sections yourself.
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
# The headline run, the one timed, profiles with `torch.profiler` on every side: the plain and
# Fabric loops call it themselves, the Lightning program through `PyTorchProfiler`. Profiling
# records what happens; the checks below show it changes none of the numbers.

from evidence import load

runs = load("profiling")
result = runs.headline
result.executed()

# %%
# ### Top operators
#
# Operators (`aten::...`) with the most self time in the plain loop's trace, and the same
# operators in the other two: calls and self milliseconds. The call counts are exact and
# repeatable; on a shared CPU the milliseconds of a single operator can include time the
# process spent descheduled. `aten::select` and `aten::stack` come from the `DataLoader`
# collating one sample at a time; `aten::addmm` is the forward pass of the two `Linear`
# layers, `aten::mm` their backward.

from evidence.programs import LABELS
from evidence.views import Code, Lines, table

profiles = result.values("profile")
operators = sorted((name for name, event in profiles["pytorch"].items() if event["category"] == "cpu_op"),
                   key=lambda name: profiles["pytorch"][name]["self_ms"], reverse=True)[:12]
table(["operator", *(LABELS[kind] for kind in profiles)],
      [[Code(name), *(Lines([f"{found[name]['count']} calls", f"{found[name]['self_ms']:.3f} ms"])
                      if name in found else None for found in profiles.values())] for name in operators],
      caption="Self time by operator, from each program's Chrome trace")

# %%
# ### Sections labelled by hand, and by torch
#
# The ranges in the plain and Fabric traces (`user_annotation` events): those the loops open
# with `record_function`, and those torch opens itself around each `DataLoader` fetch and each
# optimizer call. Calls and total time, everything inside included.

def ranges(kind):
    return {name: event for name, event in profiles[kind].items() if event["category"] == "user_annotation"}


plain, fabric = ranges("pytorch"), ranges("fabric")
table(["range", "PyTorch: calls", "PyTorch: total ms", "Fabric: calls", "Fabric: total ms"],
      [[Code(name), plain[name]["count"], f"{plain[name]['total_ms']:.3f}",
        fabric.get(name, {}).get("count"), f"{fabric[name]['total_ms']:.3f}" if name in fabric else None]
       for name in sorted(plain, key=lambda name: -plain[name]["total_ms"])])

# %%
# ### Lightning's actions under `PyTorchProfiler`
#
# The same kind of trace seen through the ranges Lightning opened for its own actions
# (prefixed `[pl][profile]`), slowest first. Nested actions overlap: `run_training_batch`
# contains `optimizer_step`, which contains the `training_step` closure and `backward`.

actions = {name[len("[pl][profile]"):]: event for name, event in profiles["lightning"].items()
           if name.startswith("[pl][profile]")}
table(["Lightning action", "calls", "total ms"],
      [[Code(name), actions[name]["count"], f"{actions[name]['total_ms']:.3f}"]
       for name in sorted(actions, key=lambda name: -actions[name]["total_ms"])[:15]])

# %%
# ### What the profile of the first training step lacks
#
# Lightning's schedule wrapper returns "no recording" until the first step method
# (`training_step`, `validation_step`, ...) has finished. With the sanity check off, as here,
# that is the first `training_step`: the first batch's forward pass and the range of its
# `run_training_batch` are missing, while the first backward pass, which runs later inside the
# optimizer-step closure, is recorded.

runs.verdicts("lightning_misses_first_forward", "lightning_misses_first_batch", "lightning_records_every_backward")

# %%
# ### `Trainer(profiler=SimpleProfiler(...))`
#
# The same three programs run again with the Lightning program switched to `SimpleProfiler`;
# no timed rounds this time. It times each action with a wall clock around the hook, so its
# numbers include all Python overhead but no operator detail. Its report, as it wrote it (one
# callback in it, `EpochMetrics`, is not the program's: it is how this site reads what
# `self.log` logged at the end of each epoch, and the profiler times it like any other):

simple = runs["simple_profiler"]
print(simple.value("lightning", 'reports["fit-simple.txt"]'))

# %%
# The simple profiler does not change the math either:

simple.parity()

# %%
# The files each program wrote into its `--out-dir` (the Chrome trace's name is Lightning's:
# the stage, the `filename`, the last step action and a time stamp):

result.per_implementation({"files written (PyTorchProfiler run)": "files"})

# %%
# --8<-- "gallery/shared/costs.md"
#
# Profiling has a cost: every operator call becomes an event, and aggregating the events and
# writing the trace take time too. Every program here writes a report and a Chrome trace once;
# Lightning's `PyTorchProfiler` also opens a range around every Lightning action and, with its
# default `record_module_names=True`, around every submodule's forward. The timings include
# all of that.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "PyTorchProfiler does not record every step by default"
#     Without a `schedule=`, Lightning's `PyTorchProfiler` uses
#     `torch.profiler.schedule(wait=1, warmup=1, active=3)`, which repeats: of every five
#     training steps it records three. Operator counts then do not add up to what the run did.
#     (With fewer than five training batches an epoch, as here, Lightning drops that default
#     schedule with a warning and records every step; the tests check the warning.) The
#     Lightning program passes a schedule that always returns `ProfilerAction.RECORD`.
#
# !!! warning "...and never the first step method"
#     Even with that schedule, recording starts when the first step method has finished (the
#     checks above). The sanity check's `validation_step` is such a method: with the sanity
#     check on (the default), recording starts there, every training step is recorded, and it
#     is the sanity check's first batch that the profile lacks (the tests check that too). The
#     Lightning program turns the sanity check off, so that its profile covers the work the
#     plain loop's covers, less the first training batch.
#
# !!! note "Reports go where you tell them, and pile up"
#     - Without `dirpath`/`filename`, both profilers print their whole report when `fit` ends.
#       With them, the report goes to `<dirpath>/fit-<filename>.txt`, opened for appending: a
#       second run into the same folder adds its report below the first (the tests check it).
#     - `PyTorchProfiler(export_to_chrome=True)` (the default) also writes a Chrome trace per
#       recorded cycle when `dirpath` is set.
#     - Self time of a `record_function` range counts the Python code that runs inside it
#       between operators; that is why the first table lists `aten::` operators only.
#
# ??? info "Simple, advanced, PyTorch"
#     `profiler="simple"` times Lightning's actions; `profiler="advanced"` runs `cProfile`
#     around each action (Python functions, no tensor operators); `profiler="pytorch"` records
#     tensor operators and, on a GPU, CUDA kernels. None of them profiles code outside the
#     Trainer's actions, such as building the data.

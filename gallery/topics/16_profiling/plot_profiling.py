"""
# Profiling

Where does the time of a training run go? The network and data are those of
[the minimal training loop](../01_minimal_loop/plot_minimal_loop.md), on 128 points, profiled
three ways:

- **Plain PyTorch** wraps its loop in `torch.profiler.profile(...)` and labels its own
  sections with `record_function("training_step")`, `"backward"`, `"optimizer_step"`, ...
- **Lightning** takes a `profiler=` argument. `Trainer(profiler="pytorch")` (a
  `PyTorchProfiler`, the program's default) runs `torch.profiler` over the fit and labels every
  Lightning action as a range, so the operators appear nested under the hooks that called them;
  `Trainer(profiler="simple")` (a `SimpleProfiler`, `--profiler simple`) times every Lightning
  action (each hook, each loop step) with a wall clock. The program builds either with a
  `dirpath` and `filename` in a temporary folder, so the report goes to a file instead of being
  printed at the end of `fit`.
- **Fabric** has no profiler of its own: the loop is yours, so `torch.profiler` goes around
  it exactly as in plain PyTorch.

All three programs return the same kind of tables: the operators with the most self CPU time
(name, calls, milliseconds) and the timed sections or Lightning actions.

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
# Each program ran once with its log captured, then under a memory probe, then timed rounds
# alternating the order of the programs. Same seed, same data, same device and one torch
# thread for all of them. The headline run, the one timed, profiles with `torch.profiler` on
# every side: the plain and Fabric loops call it themselves, the Lightning program through
# `PyTorchProfiler`. The `SimpleProfiler` run further down is not timed. Which profiler each
# run used:

from evidence import load
from evidence.views.topics import profiling as views

runs = load("profiling")
result = runs.headline
simple = runs["simple_profiler"]
views.profilers_used(result, simple)

# %%

result.stamp()

# %%
# ### What each program printed
#
# A short excerpt of each profile, printed by the program itself after training. Lightning's
# full report went to a file in its temporary folder, not to the output.

result.logs()

# %%
# ### The loss curves
#
# Profiling records what happens; it must not change it.

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did profiling change the math?
#
# The final weights and the validation losses, compared with the plain PyTorch run.

result.parity()

# %%
# ### What each program did, call by call
#
# The headline run once more, untimed, with every training call recorded through PyTorch's own
# hooks (the programs are unchanged; the recorded pass ended with the same weights): forward
# passes with the model's mode and grad mode, `zero_grad`, `backward`, optimizer and scheduler
# steps, clipping, checkpoint saves, and who made each call. Rows where the programs differ are
# marked; [What the Trainer does for you](../../explained/01_what_the_trainer_does/plot_what_the_trainer_does.md)
# reads the minimal loop's recording line by line.

result.trace()

# %%
# ### Top operators
#
# Operators (`aten::...`) with the most self CPU time (time spent in the operator itself, not
# in operators it called), in the plain loop's order, then those only another program ranks in
# its top twelve. Each cell is calls and milliseconds from that program's own profile in this
# build; "–" means the operator is not in that program's top twelve. The call counts are exact
# and repeatable; on a shared CPU the milliseconds of a single operator can include time the
# process spent descheduled, so one row can jump from run to run. `aten::select` and
# `aten::stack` come from the `DataLoader` collating one sample at a time; `aten::addmm` is the
# forward pass of the two `Linear` layers, `aten::mm` their backward.

views.top_operators(result)

# %%
# ### Sections labelled by hand (plain PyTorch and Fabric)
#
# The ranges the plain and Fabric loops open with `record_function`: calls and total CPU time
# including everything inside them.

views.sections(result)

# %%
# ### Lightning's actions under `profiler="pytorch"`
#
# The same profile seen through the ranges Lightning opened for its own actions (prefixed
# `[pl][profile]` in the raw profile), slowest first. Nested actions overlap:
# `run_training_batch` contains `optimizer_step`, which contains the `training_step` closure
# and `backward`.

views.lightning_actions(result)

# %%
# ### `Trainer(profiler="simple")`
#
# The same three programs run again with the Lightning program switched to the
# `SimpleProfiler`; no timed rounds this time. Its actions are timed with a wall clock around
# each hook, so the numbers include all Python overhead but no operator detail. The parity
# check repeats: the simple profiler does not change the math either.

views.lightning_actions(simple)

# %%

simple.parity()

# %%
# The files each Lightning profiler wrote into its temporary folder (the report that would
# otherwise be printed):

views.report_files(result, simple)

# %%
# ### Time and memory
#
# Profiling has a cost: every operator call becomes an event, and aggregating the events into
# tables at the end takes time too. Every program here aggregates once
# (`profiler.key_averages()`) and builds its tables from that; Lightning's `PyTorchProfiler`
# also does what it does for any user: it opens a range around every Lightning action and,
# with its default `record_module_names=True`, around every submodule's forward, and it
# aggregates the events once more for the report it writes to `fit-pytorch.txt`. The timings
# include all of that, and nothing else: the quiet timed runs print nothing, and the Lightning
# program's progress bar and model summary are off in them.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Defaults the Lightning program changes
#
# - `num_sanity_val_steps=0`: by default the `Trainer` runs up to two validation batches
#   before training (the sanity check; here the validation set's only batch), which the plain
#   loop does not do, and that moves the moment `PyTorchProfiler` starts recording (see the
#   second pitfall): with the sanity check on, the profile lacks the sanity check's first
#   validation step instead of the first training step. The profile would then cover other
#   work than the plain loop's, and the operator counts would not compare like for like.
# - `logger=False`, `enable_checkpointing=False`: this page is not about logs or checkpoints,
#   so the program writes no `lightning_logs/` or `.ckpt` files the reader did not ask for.
# - `enable_progress_bar=verbose`, `enable_model_summary=verbose`: on when the program runs
#   from the command line (and in the logged run above), off in the quiet timed runs, where
#   no program prints anything.
#
# ## Pitfalls
#
# !!! warning "PyTorchProfiler does not record every step by default"
#     Without a `schedule=`, Lightning's `PyTorchProfiler` uses
#     `torch.profiler.schedule(wait=1, warmup=1, active=3)`, which repeats: of every five
#     training steps it records three. Operator counts then do not add up to what the run did.
#     (With fewer than five training batches an epoch, Lightning drops that default schedule
#     with a warning and records every step.) The Lightning program passes a schedule that
#     always returns `ProfilerAction.RECORD`.

views.missed_first_step(result)

# %%
# The tests pin these differences at this page's configuration. With the sanity check on
# (the default), the first step method to finish is the sanity check's first
# `validation_step`; recording starts there, every training step is recorded, and it is the
# sanity check's first batch that the profile lacks (the tests check that too).
#
# !!! note "Reports and traces go where you tell them"
#     - Without `dirpath`/`filename`, both profilers print their whole report to standard
#       output when `fit` ends. With them, the report is written to
#       `<dirpath>/fit-<filename>.txt`.
#     - `PyTorchProfiler(export_to_chrome=True)` (the default) also writes a Chrome trace per
#       recorded cycle when `dirpath` is set; turned off here.
#     - Self CPU time of a `record_function` range counts the Python code that runs inside it
#       between operators; that is why the tables above list `aten::` operators only.
#
# ??? info "Simple, advanced, PyTorch"
#     `profiler="simple"` times Lightning's actions; `profiler="advanced"` runs `cProfile`
#     around each action (Python functions, no tensor operators); `profiler="pytorch"` records
#     tensor operators and, on a GPU, CUDA kernels. None of them profiles code outside the
#     Trainer's actions, such as building the data.

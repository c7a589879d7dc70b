"""
# Compiling the model with torch.compile

`torch.compile` traces a model's Python code into a graph and has a compiler (Inductor by
default: C++ on the CPU, Triton on a GPU) generate fused kernels for it. The price is paid
once, on the first call; later calls with the same shapes reuse the compiled code.

Each program below trains the small classifier of the minimal loop **twice from the same
seed**: once eagerly and once compiled, timing every optimizer step. The first compiled step
carries the tracing and compilation; the median of the other steps is the steady-state speed.

- **Plain PyTorch:** `compiled = torch.compile(model)`, train through `compiled`, read the
  weights from `model` (they are the same tensors).
- **Lightning:** compile the inner network in the `configure_model` hook
  (`self.model = torch.compile(self.model)`); the `Trainer` needs no flag.
- **Fabric:** hand the compiled module to `fabric.setup`; Fabric unwraps it, applies its
  device and precision handling to the original module and compiles that again with the same
  arguments.

Each program first compiles a one-line function to find out whether compilation works on this
machine (it needs a C++ compiler on the CPU). If it does not, the program prints one `note:`
line and trains eagerly only, so the downloaded file still runs.
"""

# %%
# ## The three programs
#
# <!-- implementations -->
#
# ## Executed in this build
#
# One logged run of each program, one under the memory probe and one timed run. Every run
# starts from `torch.compiler.reset()`, so each implementation compiles for itself; the
# on-disk cache of Inductor is left on, as it is for a reader, so only the first program in a
# fresh environment pays for a cold compile.

from evidence import load
from evidence.views.topics import torch_compile as views

result = load("torch_compile").headline
result.stamp()

# %%
# ### What each program printed
#
# Every program prints its eager epochs, then its compiled epochs, then the step timings and
# how far the compiled weights ended from the eager ones.

result.logs()

# %%
# ### Loss curves of the compiled runs, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Compiled against eager, inside each program
#
# The same seed and batches, with and without compilation. Inductor may fuse and reorder
# floating-point operations, so the two need not agree bit for bit; the table shows the
# largest difference between the final weights and whether it stays within the tolerance of
# `1e-6` used on this page.

views.step_table(result)

# %%
# ### Where the time goes
#
# First step against the median step, eager and compiled, for each implementation (log
# scale). The gap between the two compiled bars is the compilation; the gap between the two
# median bars is what compilation buys, or costs, per step.

views.step_figure(result)

# %%
# ### Do the implementations agree?
#
# The compiled weights of Lightning and Fabric against the compiled weights of plain PyTorch,
# and the same for the eager runs. All three compile the same network with the same
# arguments, so they run the same generated kernels on the same batches.

result.parity()

# %%
# ### Time and memory of a whole run
#
# A run here is two complete trainings (eager and compiled) plus the compile check, so the
# compilation dominates; the step-level table above is the one to read for speed.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "A tiny model on a CPU does not get faster"
#     Compilation removes Python overhead and fuses element-wise operations. A two-layer
#     network of a few hundred parameters has almost nothing to fuse, so the compiled step can
#     be slower than the eager one, as the speed-up column shows here. Measure on your own
#     model, on your own device, before keeping `torch.compile` in a training script.
#
# !!! warning "Recompilation"
#     The compiled code is specialised to what it saw. A last batch of a different size (here
#     409 training rows make 12 batches of 32 and one of 25), switching to `model.eval()`
#     under `torch.no_grad()` for validation, or a new dtype each trigger another compile. In
#     these programs that means three compiles per run: the full batch, the short last batch
#     and validation. `drop_last=True` removes one of them, at the price of skipping data.
#
# !!! note "Checkpoint keys gain `_orig_mod.`"
#     `torch.compile(module)` returns a wrapper whose `state_dict()` keys start with
#     `_orig_mod.`. In the Lightning program the compiled network is an attribute of the
#     LightningModule, so its checkpoint holds `model._orig_mod.0.weight` and will not load
#     into an uncompiled module without renaming. The programs read the weights from the
#     original module (`model` in plain PyTorch, `net` in Fabric, `_orig_mod` in Lightning).
#
# !!! note "`nn.Module.compile()` and built-in containers"
#     `model.compile()` compiles the module in place and keeps the keys unchanged, but it
#     compiles the module's `__call__` machinery. For a bare `nn.Sequential` that code lives
#     inside torch itself, which Dynamo skips, so check that the first step really got slower
#     (a compile happened) before trusting it. `torch.compile(model)` does not have this
#     problem.
#
# ??? info "Compiling the whole LightningModule instead"
#     `trainer.fit(torch.compile(lit_module))` also works: Lightning unwraps the compiled
#     module and compiles `training_step` and `validation_step` with the same settings. The
#     loss and the `self.log` calls then sit inside the compiled region, so the graph, and the
#     last bits of the numbers, differ from a plain loop that compiles only the network.

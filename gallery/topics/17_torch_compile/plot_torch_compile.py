"""
# Compiling the model with torch.compile

`torch.compile` traces a model's Python code into a graph and has a compiler (Inductor by
default: C++ on the CPU, Triton on a GPU) generate fused kernels for it. The price is paid
once, on the first call; later calls with the same shapes reuse the compiled code.

Each program below trains the small classifier of the minimal loop, compiled by default and
eagerly with `--no-compile`, and times every optimizer step; it prints the first step, which
carries the tracing and compilation, and the median of the others, the steady-state speed.
The page runs every program both ways from the same seed.

Every program times a step the same way: the clock starts once the batch is on the device and
stops after the optimizer step (after a `torch.cuda.synchronize()` on a GPU). The plain and
Fabric loops read `time.perf_counter()` around that code; the Lightning program reads it in a
small callback's `on_train_batch_start` and `on_train_batch_end`, so its steps also hold the
hooks and the logging Lightning runs in between.

- **Plain PyTorch:** `net = torch.compile(model)`, train through `net`; the weights are those
  of `model` (the same tensors).
- **Lightning:** compile the inner network in the `configure_model` hook
  (`self.model = torch.compile(self.model)`); the `Trainer` needs no flag.
- **Fabric:** hand the compiled module to `fabric.setup`; Fabric unwraps it, applies its
  device and precision handling to the original module and compiles that again with the same
  arguments.

Each `run()` starts with `torch.compiler.reset()`, which puts Dynamo back in the state of a
fresh process: `run()` may be called more than once in one process (as here, and in the
tests), and a second compiled model of the same code would otherwise reuse the graphs compiled
for the first and hide the compile cost. Compilation needs a C++ compiler on the CPU; where
there is none, `--no-compile` trains the eager model.
"""

# %%
# ## The three programs
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The headline run is the compiled one. Inductor's on-disk cache is left on, as it is for a
# reader, so only the first compile in a fresh environment is a cold one.

from evidence import load

runs = load("torch_compile")
result = runs.headline
result.executed()

# %%
# ### Loss curves of the compiled runs, overlaid

result.plot(title="torch_compile: loss curves of the compiled programs, overlaid")

# %%
# ### Compiled against eager
#
# The same programs with `--no-compile`, every implementation against plain PyTorch:

runs["eager"].parity()

# %%
# Inductor may fuse and reorder floating-point operations, so compiled and eager training need
# not agree bit for bit; the first two checks compare each implementation's compiled run with
# its own eager run, losses and final weights. The other two say where the compile time goes:
# into the first step.

runs.verdicts("compiled_close_to_eager", "compiled_weights_close_to_eager",
              "first_step_compiles", "compiled_first_step_over_median")

# %%
# ### Step times
#
# The first and the median optimizer step of each program, eager and compiled. The gap between
# the first and the median compiled step is the compilation; the gap between the two medians
# is what compilation buys, or costs, per step.

from evidence.programs import LABELS
from evidence.views import seconds, table

eager = runs["eager"]
table(["implementation", "eager: first step", "eager: median step", "compiled: first step", "compiled: median step"],
      [[LABELS[kind]] + [seconds(run.value(kind, key)) for run in (eager, result)
                         for key in ("first_step_s", "median_step_s")] for kind in result.kinds()],
      caption="From each program's logged run, which is not serialised: in a parallel build other topics may run "
              "at the same time and slow single steps.")

# %%
# --8<-- "gallery/shared/costs.md"
#
# A compiled run's time includes its compilation (every run starts from a reset Dynamo); the
# step times above are the ones to read for speed.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "A tiny model need not get faster"
#     Compilation removes Python overhead and fuses element-wise operations. A two-layer network
#     of a few hundred parameters has almost nothing to fuse, so the compiled median step can be
#     slower than the eager one (compare the two median columns above). Measure on your own
#     model, on your own device, before keeping `torch.compile` in a training script.
#
# !!! warning "Recompilation"
#     The compiled code is specialised to what it saw. A batch of another size, switching to
#     `model.eval()` under `torch.no_grad()` for validation, or a new dtype each trigger
#     another compile. In these programs the model is compiled into three graphs in each
#     compiled training: the full training batch of 32, the short last one (409 training rows
#     make 12 batches of 32 and one of 25; at the second size Dynamo recompiles with a dynamic
#     batch size) and validation. `drop_last=True` on the training loader does not bring that
#     down here: the validation loader's short last batch (103 rows: 3 batches of 32 and one
#     of 7) then causes the recompile instead, and the count stays at three. The tests count
#     the graphs both ways.
#
# !!! note "The sanity check compiles too"
#     By default the `Trainer` runs two validation batches before training. With a compiled
#     model that compiles the validation graph before any training step, and the model ends
#     with one graph more than in the plain loop (four instead of three; the tests count them).
#     The Lightning program turns it off (`num_sanity_val_steps=0`), so all three compile the
#     same graphs.
#
# !!! note "Checkpoint keys gain `_orig_mod.`"
#     `torch.compile(module)` returns a wrapper whose `state_dict()` keys start with
#     `_orig_mod.`. In the Lightning program the compiled network is an attribute of the
#     LightningModule, so its checkpoint holds `model._orig_mod.0.weight` and will not load
#     into an uncompiled module without renaming (the tests check the key). The plain program
#     keeps the original module at hand (`model`); the weights compared above are matched
#     by name after the wrapper prefixes are stripped.
#
# !!! note "`nn.Module.compile()` and built-in containers"
#     `model.compile()` compiles the module in place and keeps the keys unchanged, but it
#     compiles the module's `__call__` machinery rather than its `forward`. On a bare
#     `nn.Sequential`, with the torch of this build, a forward and backward pass after
#     `model.compile()` compiles nothing at all (Dynamo's graph counter stays at zero; the
#     tests check it), so check that the first step really got slower before trusting it.
#     `torch.compile(model)` compiles the same network as expected.
#
# !!! warning "Lightning's documented recipe fails with the pinned versions"
#     Lightning's documentation compiles the whole LightningModule:
#     `trainer.fit(torch.compile(lit_module))`. Lightning then unwraps the compiled module and
#     compiles its `forward`, `training_step`, `validation_step`, `test_step` and
#     `predict_step` with the same settings, so the loss and the `self.log` calls sit inside
#     the compiled region. With the versions this site pins (PyTorch 2.13, Lightning 2.6.6)
#     that fails at the first `self.log` in the compiled `training_step` with
#     `InternalTorchDynamoError: AttributeError: 'method' object has no attribute '__dict__'`:
#     `self.log` inspects the step's signature, which Dynamo cannot trace since PyTorch 2.12
#     (Lightning issue #21836; the fix, which keeps Dynamo out of `self.log`, is on Lightning's
#     main branch, not in 2.6.6). The tests check that it still fails. The program compiles
#     the network in `configure_model` instead, which also makes all three programs compile
#     the same graph.

"""
# Compiling the model with torch.compile

`torch.compile` traces a model's Python code into a graph and has a compiler (Inductor by
default: C++ on the CPU, Triton on a GPU) generate fused kernels for it. The price is paid
once, on the first call; later calls with the same shapes reuse the compiled code.

Each program below trains the small classifier of the minimal loop **twice from the same
seed**: once eagerly and once compiled, timing every optimizer step. The first compiled step
carries the tracing and compilation; the median of the other steps is the steady-state speed.

Every program times a step the same way: the clock starts once the batch is on the device and
stops after the optimizer step and the step's loss bookkeeping (after a
`torch.cuda.synchronize()` on a GPU). The plain and Fabric loops read `time.perf_counter()`
around that code; the Lightning program reads it in a small callback's `on_train_batch_start`
and `on_train_batch_end`, so its steps also hold the hooks and the logging Lightning runs in
between. Every run times its steps this way, the timed rounds of the harness included.

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
# fresh environment pays for a cold compile. In the logged run the Lightning program shows its
# progress bar and model summary; in the quiet ones (memory, timing) it does not, and no
# program prints.

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
# largest difference between the final weights and whether it stays within the tolerance
# this page declares (the one in the parity box below).

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
# ### Time and memory of a whole run
#
# A run here is two complete trainings (eager and compiled) plus the compile check, so its
# time includes every compilation; the step-level table above is the one to read for speed.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Defaults the Lightning program changes
#
# - `num_sanity_val_steps=0`: by default the `Trainer` runs two validation batches before
#   training (the sanity check). In the compiled run that compiles the validation graph before
#   any training step, and the model ends with one graph more than in the plain loop (four
#   instead of three; the tests count them). That is work, and time, the plain loop does not
#   spend, in a page that compares compile costs.
# - `logger=False`, `enable_checkpointing=False`: this page is not about logs or checkpoints,
#   so the program writes no `lightning_logs/` or `.ckpt` files the reader did not ask for.
# - `enable_progress_bar=verbose`, `enable_model_summary=verbose`: on when the program runs
#   from the command line (and in the logged run above), off in the quiet timed runs, where
#   no program prints anything.
#
# ## Pitfalls

views.speedup_note(result)

# %%
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
# !!! note "Checkpoint keys gain `_orig_mod.`"
#     `torch.compile(module)` returns a wrapper whose `state_dict()` keys start with
#     `_orig_mod.`. In the Lightning program the compiled network is an attribute of the
#     LightningModule, so its checkpoint holds `model._orig_mod.0.weight` and will not load
#     into an uncompiled module without renaming. The programs read the weights from the
#     original module (`model` in plain PyTorch, `net` in Fabric, `_orig_mod` in Lightning).
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

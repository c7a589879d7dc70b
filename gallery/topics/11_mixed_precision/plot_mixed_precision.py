"""
# Mixed precision (bf16 and fp16 autocast)

Mixed precision runs the matrix multiplications of the forward pass in a 16-bit float type
while the weights, the optimizer state and the loss reduction stay in float32. The same
classifier (`32 -> 128 -> 128 -> 4`, ReLU, Adam, cross-entropy) is trained three ways:

- **PyTorch**: the forward pass and the loss go inside `torch.autocast(device_type,
  dtype=torch.bfloat16)`; for float16 a `torch.amp.GradScaler` multiplies the loss before
  `backward()`, unscales the gradients, skips steps with inf/NaN gradients and adapts the scale;
- **Lightning**: `Trainer(precision="bf16-mixed")` or `"16-mixed"`; the `training_step` does
  not change;
- **Fabric**: `Fabric(precision="bf16-mixed")`; the model returned by `fabric.setup` runs its
  forward under autocast and `fabric.backward(loss)` applies the scaler when there is one.

Every program takes `--precision 32-true|bf16-mixed|16-mixed` (the Lightning names). bfloat16
autocast works on the CPU and on the GPU. float16 with a gradient scaler needs a CUDA GPU: on
the CPU each program stops before training with exit code 2 and one line on stderr (the tests
of this topic run each program that way), where `Trainer` and `Fabric` on their own would warn
and fall back to `bf16-mixed` (Pitfalls). This page shows the fp16 run only when the build
machine has a GPU.
"""

# %%
# ## The three programs
#
# The highlighted lines are those a program does not share with its counterpart. In the
# plain program they are the autocast blocks and the four scaler calls; Lightning and Fabric
# replace them with one `precision=` argument. The blocks marked `# region: not counted` record
# what `run()` returns (the losses, the dtype a layer produced, the loss scale) or hold the
# command line; they are left out of the line counts.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: by default the `Trainer` writes logs and a
#     checkpoint under `lightning_logs/` in the working folder, files the reader did not ask for.
#     The progress bar and the model summary follow the quiet switch
#     (`enable_progress_bar=verbose`, `enable_model_summary=verbose`): on when the program runs from
#     the command line, off in the timed runs, where no program prints. Everything else is
#     Lightning's default, including the sanity check of two validation batches before training,
#     which leaves the numbers unchanged (the parity below).
#
# ## Executed in this build: bfloat16 autocast
#
# Each program ran once with its log captured, then under a memory probe, then timed rounds
# alternating their order. Same seed, data, batch order and device, one torch thread.

from evidence import load
from evidence.views.topics import mixed_precision as views

runs = load("mixed_precision")
result = runs.headline
result.stamp()

# %%
# ### What each program printed
#
# Lightning and Fabric announce the precision they use. Lightning's model summary (shown because
# the program ran in its verbose mode) warns that it sizes bf16-mixed parameters as 32-bit; the
# table "bfloat16 against float32" further down gives the dtype the weights were stored in and the
# dtype the middle `Linear` layer produced (recorded by a forward hook).

result.logs()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss",
            title="bf16-mixed: loss curves of every implementation, overlaid")

# %%
# ### Did they compute the same thing?
#
# The final float32 weights are compared element by element with the plain PyTorch ones, and
# so is the per-epoch validation loss. The headline is the weights; the loss history is allowed
# the run's tolerance: every program sums the losses on the device in float32, but Lightning
# divides by the sample count in float32 and the loops in Python (float64), which can move the
# last bits of the epoch means (it does not change the weights).

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
# ### The same programs in float32, for reference
#
# The programs ran again with `precision="32-true"` (no autocast), with the same seed and data.

fp32 = runs["fp32"]
fp32.parity()

# %%
# ### bfloat16 against float32
#
# bfloat16 keeps 8 bits of mantissa (about 2-3 significant decimal digits), so the losses
# move away from the float32 run, but they should stay close: the check below allows the
# tolerance in its header on any per-epoch loss. The difference is not zero, which also shows
# that autocast really changed the arithmetic.

views.versus_fp32_table(result, fp32)

# %%
# ### Time and memory: bf16-mixed
#
# On a CPU without native bfloat16 matrix units, autocast adds casts around every layer and
# can be *slower* than float32 for a model this small; the gain comes on GPUs (tensor cores),
# on CPUs with AMX/AVX-512-BF16, and with large activations, whose memory halves. What this
# build measured, from the two tables below:

views.speed_sentence(result, fp32)

# %%

result.timings()

# %%
# ### Time and memory: 32-true

fp32.timings()

# %%
# ### float16 with a gradient scaler
#
# The CUDA path (`--precision 16-mixed`) runs only when the build machine has a GPU; this page
# shows its result only when this build ran on one.

views.fp16(runs)

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "fp16 needs the scaler, bf16 does not"
#     float16 has a narrow exponent range: small gradients underflow to zero. `GradScaler`
#     multiplies the loss (starting at 65536), unscales before the step and skips steps whose
#     gradients overflowed. bfloat16 has float32's exponent range, so it needs no scaler;
#     Lightning and Fabric create one only for `"16-mixed"`. In plain PyTorch, if you clip
#     gradients, call `scaler.unscale_(optimizer)` first; Lightning does that for
#     `gradient_clip_val`, Fabric for `fabric.clip_gradients`.
#
# !!! note "Changed names"
#     Lightning 1.x accepted `precision=16` and `precision="bf16"`; Lightning 2.x spells them
#     `"16-mixed"` and `"bf16-mixed"` (and `"32-true"`, `"16-true"`, `"bf16-true"` for pure
#     low-precision weights). `torch.cuda.amp.autocast` and `torch.cuda.amp.GradScaler` are
#     deprecated in favour of `torch.autocast("cuda", ...)` and `torch.amp.GradScaler("cuda")`.
#
# !!! warning "fp16 on the CPU"
#     `Trainer(accelerator="cpu", precision="16-mixed")` does not fail: Lightning warns ("AMP
#     with fp16 is not supported on CPU. Using `precision='bf16-mixed'` instead") and switches to
#     `bf16-mixed`; `Fabric` does the same. The programs here refuse it instead, so a run never
#     silently uses a precision you did not ask for. The tests of this topic check both.
#
# ??? info "Where autocast applies"
#     Autocast decides per operation: linear layers and convolutions run in the low-precision
#     type, while reductions such as the softmax inside `cross_entropy` run in float32. Fabric
#     runs only the model's `forward` under autocast and converts its outputs back to float32,
#     so a loss computed outside the model is float32 as well; the numbers match the plain
#     program, which computes the loss inside its autocast block.

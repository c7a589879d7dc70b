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
# replace them with one `precision=` argument.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The headline run is bfloat16 autocast (`bf16-mixed`). Lightning and Fabric announce the
# precision they use; Lightning's model summary (shown because the program ran in its verbose
# mode) warns that it sizes bf16-mixed parameters as 32-bit: the weights do stay in float32.

from evidence import load

runs = load("mixed_precision")
bf16 = runs.headline
bf16.executed()

# %%
# ### Loss curves, overlaid

bf16.plot(title="bf16-mixed: loss curves of every implementation, overlaid")

# %%
# ### The same programs in float32
#
# The programs ran again with `--precision 32-true` (no autocast), with the same seed and data;
# every implementation against plain PyTorch once more:

fp32 = runs["fp32"]
fp32.parity()

# %%
# ### bfloat16 against float32
#
# bfloat16 keeps 8 bits of mantissa (about 2-3 significant decimal digits), so the losses
# move away from the float32 run, but they should stay close. These checks compare each
# implementation's bf16 run with its own float32 run: the losses close within the stated
# tolerance, and neither the losses nor the final weights equal, which shows that autocast
# really changed the arithmetic.

runs.verdicts("bf16_near_fp32", "bf16_changes_arithmetic", "bf16_changes_weights")

# %%
# The validation loss of the bf16 run minus that of the float32 run, epoch by epoch, for each
# implementation (the three lines coincide where the implementations agree):

from evidence.views import figures

low, full = bf16.values("history.val_loss"), fp32.values("history.val_loss")
fig, axes = figures.panels(1)
for kind in bf16.kinds():
    epochs = range(1, len(low[kind]) + 1)
    figures.overlay(axes[0], kind, epochs, [a - b for a, b in zip(low[kind], full[kind])])
figures.finish(axes[0], xlabel="epoch", ylabel="val loss: bf16-mixed − 32-true")
fig.suptitle("How far bf16-mixed moves the validation loss from float32, per implementation")
fig.tight_layout()

# %%
# ### float16 with a gradient scaler
#
# The CUDA path (`--precision 16-mixed`) is declared to run only where the build machine has a
# GPU; this page shows its parity and its check against float32 only when this build ran on one.

from evidence.views import admonition

if runs.declared["fp16"].runs_here():
    fp16_shown = runs.verdicts("fp16:state_dict:lightning", "fp16:state_dict:fabric", "fp16_near_fp32")
else:
    fp16_shown = admonition("note", "float16 with a gradient scaler: not executed in this build",
                            f"The fp16 run needs a CUDA GPU; this build ran on {bf16.environment['device']} "
                            f"({bf16.environment['device_name']}).")
fp16_shown

# %%
# --8<-- "gallery/shared/costs.md"
#
# On a CPU without native bfloat16 matrix units, autocast adds casts around every layer and
# can be *slower* than float32 for a model this small; the gain comes on GPUs (tensor cores),
# on CPUs with AMX/AVX-512-BF16, and with large activations, whose memory halves. The tables
# below are the bf16 run's; the float32 run's timings follow them.

bf16.costs()

# %%
# #### Time and memory in float32

fp32.timings()

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
#     type, while reductions such as the softmax inside `cross_entropy` run in float32. The
#     weights stay float32 (the tests of this topic check the dtype each layer produced and the
#     dtype of the trained weights). Fabric runs only the model's `forward` under autocast and
#     converts its outputs back to float32, so a loss computed outside the model is float32 as
#     well; the weights still match the plain program's, which computes the loss inside its
#     autocast block.

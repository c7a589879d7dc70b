"""
# What the Trainer does for you

`trainer.fit` runs the loop you would otherwise write. Which calls does it make, in which order,
in which mode, and which of them does a plain loop make too? Descriptions of the Trainer's loop
are usually pseudocode written by hand; this page is recorded. While the minimal loop's programs
ran in this build, a recorder listened through PyTorch's own global hooks (module forward hooks,
optimizer step hooks, and wrappers around `backward`, `zero_grad`, `Module.train`, clipping,
scheduler steps and checkpoint saves) and noted every call that matters in training, who made it
and in which mode. Nothing in the programs was changed for it, and the recorded pass ended with
bitwise the same weights as the logged one.

Below: one epoch of the Lightning program's calls, each beside the line of the plain PyTorch
program that makes the same call, then the whole run of all three programs side by side.
"""

# %%
# ## One epoch, call by call
#
# Each row is a call (or a cycle of calls, ×n when it repeats n times in a row) the Lightning
# program made in its first epoch; *inside Lightning* names the Lightning function nearest to the
# call, and the third column quotes the plain program's lines that make the same call. A row marked
# *differs* is a call one program makes and the other does not, or makes another number of times.

from evidence import load
from evidence.views import trace

result = load("minimal_loop").headline
result.stamp()

# %%

trace.trainer_epoch(result)

# %%
# ## The whole run, three ways
#
# The same recording for the whole headline run of the minimal loop, for all three programs,
# aligned on plain PyTorch. Repeated groups of rows (the epochs) are shown once with their count.

result.trace()

# %%
# ## Same arithmetic, step by step
#
# After every optimizer step the recorder hashed the parameters of each program. The ledger
# compares those hashes step by step with plain PyTorch's:

result.parity()

# %%
# ## Reading the recording
#
# - **The sanity check.** Before the first training step the Trainer runs two validation
#   batches (`num_sanity_val_steps=2`, its default, on in this program) in evaluation mode
#   without gradients: the first rows of the Lightning column, with nothing beside them in the
#   plain program. It changes no weight; it catches a broken `validation_step` before a long
#   epoch instead of after it.
# - **Where the Trainer zeroes the gradients.** Under automatic optimization the optimizer's step
#   runs a closure: `training_step`, then `zero_grad`, then `backward`; the plain loop usually
#   calls `zero_grad` before its forward. Both orders clear the gradients of the previous step
#   before the new ones are computed, which is why the ledger finds the same parameters after
#   every step.
# - **Modes.** The Trainer puts the model in evaluation mode for validation through its
#   `on_validation_model_eval` hook, which calls `model.eval()`. Afterwards it does not call
#   `model.train()`: its evaluation loop records every submodule's `training` flag before
#   validation and sets the flags back directly (`_ModuleMode` in
#   `pytorch_lightning/utilities/model_helpers.py`, Lightning 2.6.6), unless the module
#   overrides `on_validation_model_train`. That is the row marked *differs* beside the plain
#   program's `model.train()`: the same mode, reached without the call, so a `train()` override
#   on your model is not called by the Trainer.
# - **The model's own `zero_grad`.** Besides the optimizer's, the Trainer calls the model's
#   `zero_grad` (the rows `model.zero_grad()`): before each validation during `fit`, through the
#   `on_validation_model_zero_grad` hook (`training_epoch_loop.py`, Lightning 2.6.6), so that
#   gradients left over from training do not stay in memory while validating; it skips this only
#   when the validation falls inside an accumulation window of `accumulate_grad_batches`.
#   Whatever a manual-optimization loop still holds in `.grad` at an epoch's end is discarded.
# - **What is not recorded.** Framework calls that run no model, optimizer or scheduler step
#   (moving batches to the device, logging, progress bars) are not training calls and are left
#   out; the topic pages show their effect (logs, timings).

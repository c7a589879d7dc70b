"""
# Diff your own loops

You ported a training script from plain PyTorch to Lightning (or to Fabric, or back), and the
loss curve is not quite the one you had. Is it the framework, or something the port changed? The
topic pages of this site answer that for their own programs with a recorder that listens while a
program trains; `loopdiff` is that recorder as a command you run on your own two scripts,
unchanged.

- `loopdiff record -o a.json SCRIPT [ARGS...]` runs `SCRIPT` as `python SCRIPT ARGS...` would
  and writes what it did: every forward pass with the model's mode and the grad mode,
  `zero_grad`, `backward`, optimizer and scheduler steps and gradient clipping, with who made each
  call; after every optimizer step, the loss and a digest of the parameters, and a copy of them
  while `--snapshot-mb` (256 MiB unless you say otherwise) lasts.
- `loopdiff diff a.json b.json` says whether the two runs are identical after every optimizer
  step, or the first step after which they part, the parameter that differs most there and by how
  much, and shows both runs' calls side by side around that step, with the rows that differ
  marked `!`.

**Install.** From a clone of this site's repository, `pip install -e .` installs `loopdiff`
(`python -m evidence.loopdiff` is the same command). It needs torch; your scripts need whatever
they import.

Every command below was **executed when this page was built**, from the root of a clone, on two
of this site's own programs.
"""

# %%
# ## Two programs that train the same way
#
# The minimal loop in plain PyTorch and in Lightning, two epochs each. The weights are identical,
# bit for bit, after every step. The calls are not: the rows marked `!` are a sanity-check
# validation Lightning runs before training, the `model.zero_grad()` it calls when `fit` starts and
# before each validation, and the `model.train()` the plain loop calls (Lightning puts its modules back in
# training mode by setting their `training` flag, which is not a call the recorder sees). None of
# them changed a parameter, and `diff` says so with exit code 0.

from evidence.loopdiff import views as loopdiff

runs = loopdiff.load("loopdiff")
identical = runs["identical"]
identical.stamp()

# %%

identical.session()

# %%

identical.conclusion()

# %%
# ## A scheduler stepped per epoch instead of per step
#
# The plain loop warms its learning rate up step by step, calling `scheduler.step()` after every
# `optimizer.step()`. Its Lightning port returns the same scheduler from `configure_optimizers`
# without saying `"interval": "step"`, so the Trainer steps it once per epoch (the
# [scheduler interval](../../topics/22_scheduler_interval/plot_scheduler_interval.md) topic is
# about this trap). Both first steps use the same learning rate, so the runs part after the
# second step, and the aligned calls show why: the plain loop's cycle of calls ends with
# `LambdaLR.step()`, the Lightning one has it once, after the epoch.

scheduler = runs["scheduler"]
scheduler.session()

# %%

scheduler.conclusion()

# %%
# ## Reading the output
#
# - **Exit code.** 0: identical at every step (and as many steps). 1: every step within
#   `--tolerance T` (the largest absolute difference of any parameter). 2: different. 3: input it
#   cannot use, with one line on stderr saying why: a file that is not JSON or not a recording, a
#   script that never stepped a `torch.optim` optimizer, two recordings of different models.
# - **Which parameters are compared.** By name, after removing what wrappers put before a name
#   (`_forward_module.` of Fabric, `_orig_mod.` of `torch.compile`, `module.` of DDP) and what all
#   names of one run start with (`model.` of a LightningModule that holds the network); else, when
#   both runs step as many parameters of the same shapes in the same order, by order. The output
#   says which rule matched.
# - **Where the runs part.** The first step after which the parameters differ. The loss on that
#   line is the loss of that step's backward, computed before the step: it differs one step later.
#   The last row marked `!` before that step is usually the cause; rows marked `!` earlier, such as
#   Lightning's sanity check, may have changed nothing.
# - **The calls.** Folded as on the topic pages: `×13` is a cycle of calls repeated 13 times in a
#   row, `steps 1–13` the optimizer steps the row holds, `by` the script's function that made the
#   calls and, after `←`, the framework's function nearest to them. Rows holding the same steps
#   are paired, so a validation in one run only does not shift the rest.
#
# ## Options and limits
#
# - `--max-steps N` stops the script after N optimizer steps: loopdiff raises its own exception
#   from the step hook and catches it when the script's run ends (Lightning's Trainer tears down
#   and passes it on); the recording says it stopped there.
# - `--snapshot-mb MB` bounds the memory for parameter copies (stored as float32, base64 in the
#   JSON file). Past it only the digests are kept: `diff` still finds the step where two runs part,
#   but not by how much, and counts such steps as different.
# - Multi-process scripts: only rank 0 records. A process whose `RANK` (or `LOCAL_RANK`) is set
#   and not 0 runs the script unrecorded and writes nothing, and processes a script starts itself
#   (`torch.multiprocessing.spawn`) are not recorded: a script that steps its optimizers only there
#   gets the "never stepped an optimizer" error.
# - Recording changes nothing a script computes: the recorder reads tensors and never draws random
#   numbers. It does cost time (every step's parameters are hashed and copied): record a few
#   epochs, or use `--max-steps`.

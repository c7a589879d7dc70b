"""
# Train and eval modes inside hooks

Two switches decide what a forward pass computes and keeps. The **module's mode**
(`model.train()` / `model.eval()`, read as `model.training`) decides whether dropout drops
and whether batch norm normalises with the batch's own statistics (and folds them into its
running estimates) or with those running estimates. The **grad mode** (`torch.no_grad()`,
`torch.inference_mode()`) decides whether autograd records the pass. Every piece of code a
training run executes, in a loop or in a hook, runs under some combination of the two, and
code that changes one (a monitoring hook that calls `.eval()`) changes it for everything
that runs after it.

The network here is built so that the mode matters: `Linear(10, 32) -> BatchNorm1d ->
ReLU -> Dropout(0.3) -> Linear(32, 2)`, trained with Adam at `lr=1e-2` on the minimal
loop's 409 training rows (labels from a noisy linear teacher) and validated on the other 103
after every epoch. At the end of every epoch each program also runs a **probe**: the mean
predicted probability of class 1 on 32 fixed validation rows, computed by a small function
that switches the network to eval mode, runs it without gradients, and puts back the mode it
found (`model.train(was_training)`).

- **PyTorch** and **Fabric**: your loop sets the modes. `model.train()` at the top of every
  epoch, `model.eval()` and `torch.no_grad()` around validation, the probe as the last thing in
  the epoch;
- **Lightning**: the `Trainer` switches the module to eval mode and turns gradients off for
  every validation (the sanity check included), and afterwards puts each submodule back in the
  mode it had before. It never calls `.train()` during `fit` otherwise. The probe is a
  `Callback` whose `on_train_epoch_end` calls it.

The programs record nothing themselves: the harness's recorded pass of the headline run notes,
for every forward pass, the network's `training` flag and the grad mode, and every `train()` /
`eval()` call with the function that made it. The same mistake is then made in all three: a
second run where the probe does **not** put the mode back.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). `--leave-eval` runs the mistake.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# Lightning's model summary counts the modules in train and in eval mode when `fit` starts
# (its "Mode" column and these counts exist since Lightning 2.3.0 and 2.4.0): a quick check
# that nothing is in eval mode by accident.
#
# The weights compared include batch norm's running mean, variance and batch count, and the
# history holds the losses and the probe of every epoch. Dropout draws its masks from the
# global generator in the same order in all three: the validations run in eval mode, where
# dropout draws nothing; the training loader shuffles with its own generator; the validation
# loader (which draws from the global generator each time it is iterated) is iterated once per
# epoch in all three; and Lightning's sanity check runs inside `isolate_rng()`, which puts
# every generator back afterwards.

from collections import Counter

from evidence import load
from evidence.programs import LABELS
from evidence.views import Code, table

runs = load("hook_modes")
result = runs.headline
result.executed()

# %%
# ### Which mode each forward pass ran in, and who switched it
#
# Read from the recorded pass of the headline run: every forward pass of the network, by the
# program function it ran in, with the network's mode and the grad mode; and every
# `model.train()` / `model.eval()` call, by the function that made it and, for Lightning, the
# framework function it came through. The training passes run in train mode with gradients,
# the validation passes in eval mode under `no_grad` (Lightning's sanity check adds two). In
# Lightning the `eval()` before each validation comes from the `on_validation_model_eval` hook,
# and no `train()` call comes from Lightning at all: it puts back the modes it saved by setting
# each submodule's flag directly. Every other `train()` / `eval()` call is the programs' own.
# In the loops the probe runs after validation, in eval mode, so `model.train(was_training)`
# puts eval mode back (the recorder writes `train(False)` as `model.eval()`: two per probe);
# in Lightning it runs after the Trainer restored train mode.

rows = []
for kind in result.kinds():
    made = Counter((e["op"], e.get("mode"), e["grad"], e["by"], (e.get("via") or "").rsplit(".", 1)[-1])
                   for e in result.value(kind, "trace.events") if e["op"] in ("forward", "train", "eval"))
    rows += [[LABELS[kind], Code("forward" if op == "forward" else f"model.{op}()"), mode, grad, Code(by),
              Code(via) if via else None, times] for (op, mode, grad, by, via), times in made.items()]
table(["implementation", "call", "network's mode", "grad mode", "in", "through", "times"], rows)

# %%
# ## When a hook leaves the network in eval mode
#
# The same three programs, with the probe's last line (`model.train(was_training)`) skipped:
# after the first epoch's probe the network stays in eval mode until someone switches it back.
# The plain and Fabric loops do, with the `model.train()` at the top of the next epoch. Nothing
# in a Lightning `fit` does (the table above: no `train()` of its own): the next validation
# saves eval mode and restores eval mode, and every later training step runs with dropout off
# and batch norm normalising with the running estimates it had after epoch 1, which it no
# longer updates (the tests check the network's flag in every training step and batch norm's
# batch counter, 13: one epoch's worth).

left = runs["left_in_eval"]
runs.verdicts("pytorch_repairs_the_mode", "fabric_repairs_the_mode", "lightning_first_epoch_unchanged",
              "lightning_later_epochs_change", "lightning_no_longer_matches_the_loops",
              "lightning_lower_train_loss", "lightning_lower_val_loss", "steps")

# %%
# The loss curves of that run. The Lightning run is not broken in any visible way: on this
# small problem, training without dropout and with frozen normalisation even gives lower
# losses (the checks above). It is a different model from the one the code describes, and
# nothing in the log says so.

left.plot("history.train_loss", "history.val_loss", "history.probe", ylabel="value",
          title="hook_modes, left_in_eval: the probe leaves the network in eval mode")

# %%
# --8<-- "gallery/shared/costs.md"

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "Lightning does not call `.train()` for you"
#     Since Lightning 2.2.0 `Trainer.fit` no longer calls `LightningModule.train()` when it
#     starts ([#18951](https://github.com/Lightning-AI/pytorch-lightning/pull/18951)), so the
#     mode the module has when `fit` is called is the mode it trains in. A network that arrives
#     in eval mode (`from_pretrained`-style loaders return one, or a check you ran before
#     training called `.eval()`) trains in eval mode for the whole run: the question in
#     [#20986](https://github.com/Lightning-AI/pytorch-lightning/issues/20986). Since 2.5.5 the
#     Trainer warns when `fit` starts with a `PossibleUserWarning`, "Found ... module(s) in
#     eval mode at the start of training"
#     ([#21146](https://github.com/Lightning-AI/pytorch-lightning/pull/21146)); the tests run
#     this program's network that way and see the warning and `training_step` in eval mode.
#     Call `model.train()` before `fit`.
#
# !!! warning "A hook that changes the mode must put it back"
#     The warning checks only the start of `fit`. A hook or callback that calls `.eval()`
#     later and does not switch back leaves every following training step in eval mode, as the
#     `left_in_eval` run shows, which is the question in
#     [#20216](https://github.com/Lightning-AI/pytorch-lightning/issues/20216). Save and restore
#     the mode (`was_training = model.training` ... `model.train(was_training)`, as the probe
#     here does), or do the eval-mode work in a validation hook (`on_validation_epoch_end`),
#     where the Trainer has already switched to eval mode and gradients off and switches back
#     afterwards.
#
# !!! warning "`self.training` is the LightningModule's flag, not the network's"
#     The probe calls `.eval()` on the network (`pl_module.model`), so in the `left_in_eval`
#     run the LightningModule's own `self.training` stays `True` while every layer inside it is
#     in eval mode (the tests check it). Printing `self.training` in `training_step` does not
#     tell you what dropout and batch norm do; `self.model.training`, or the model summary's
#     mode counts, does.
#
# !!! note "Freezing a submodule's mode"
#     The reverse case is intended: fine-tuning with batch norm frozen (`bn.eval()` once,
#     before training). Lightning keeps it: since 2.2.0 the Trainer saves the mode of every
#     submodule before each validation and restores exactly those modes afterwards (the
#     `_ModuleMode` helper in `pytorch_lightning/utilities/model_helpers.py`); before, it called
#     `.train()` on the whole module after validating and unfroze it. A plain loop's
#     `model.train()` at the top of every epoch unfreezes it too (freeze again after it), and
#     so does this page's probe: `model.train(was_training)` sets one flag on every submodule.
#     To keep a freeze, save and restore each submodule's flag
#     (`{name: m.training for name, m in model.named_modules()}`), as Lightning does; the tests
#     check both.
#
# ??? info "Fabric's wrapper has a flag of its own"
#     `fabric.setup(model)` returns a wrapper module whose `training` flag does not follow the
#     network it wraps: set up a network in eval mode, and the wrapper's `model.training` reads
#     `True` while `model.module.training` is `False`, until the first `model.train()` or
#     `model.eval()` on the wrapper sets both. The Fabric program only switches the wrapper, so
#     the two agree here, and the recorded pass reads the wrapper's flag.
#
# ??? info "Inference mode"
#     During `fit`, Lightning validates under `torch.no_grad()`, never `inference_mode`
#     (the table above); `trainer.validate`, `test` and `predict` use `inference_mode` by
#     default. [Validation, test and prediction loops](../02_eval_loops/plot_eval_loops.md)
#     records those passes.

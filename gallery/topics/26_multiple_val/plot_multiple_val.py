"""
# Several validation sets

One validation set is rarely the whole story: a model is often scored on the held-out split of
its own data and on a second set that is harder or comes from elsewhere, and each set needs its
own numbers. Here the second set is the same 103 held-out rows with Gaussian noise (standard
deviation 1) added to the features and the labels kept: the `clean` and the `noisy` validation
sets. The network, data and optimizer are the minimal loop's (`Linear(10, 16) -> ReLU ->
Linear(16, 2)`, Adam at `lr=1e-3`, 409 training rows in batches of 32).

- **PyTorch**: a dictionary of loaders, one evaluation loop per set inside `torch.no_grad()`,
  and each set's metrics stored under a name you choose (`val_loss_clean`, `val_loss_noisy`);
- **Lightning**: pass a list of loaders (`trainer.fit(module, train_loader, [clean, noisy])`);
  `validation_step` gets a third argument, `dataloader_idx`, and the Trainer runs the sets one
  after the other and keeps each set's logged values apart by appending
  `/dataloader_idx_<i>` to their names;
- **Fabric**: the plain loop's code; `fabric.setup_dataloaders` takes the three loaders at once
  and moves their batches to the device.

**What Lightning takes off your hands:** the loop over sets and batches, eval mode and
`no_grad`, the batch-size-weighted averaging per set, and keeping the sets' numbers apart.
What it asks in return is that you know the names it gives them.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). Each `run()` returns the trained
# network and the metrics it holds after training under the names it keeps them: the plain and
# Fabric loops' own dictionary (with its per-epoch `history`), Lightning's
# `trainer.callback_metrics`, which is also what loggers, `ModelCheckpoint` and `EarlyStopping`
# see.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# In this run Lightning keeps the per-set values under names with a `/` in them, which its
# history leaves out: the headline compares the weights and the training loss, the per-set
# values are compared by name below, and the `own_names` run compares every curve.

from evidence import load
from evidence.programs import LABELS
from evidence.views import Code, Lines, table

runs = load("multiple_val")
result = runs.headline
result.executed()

# %%
# ### The names each set's metrics end up under
#
# The headline run leaves Lightning's default, `add_dataloader_idx=True`: it appends
# `/dataloader_idx_<i>` to every name logged in `validation_step`. In the second run,
# `own_names`, the Lightning program logs with `self.log_dict(..., add_dataloader_idx=False)`:
# Lightning then leaves the names alone, and the program makes them unique per set itself
# (`f"val_loss_{VAL_SETS[dataloader_idx]}"`); the plain and Fabric programs are unchanged.

own = runs["own_names"]
table(["implementation", "names after fit (headline)", "names after fit (own_names)"],
      [[LABELS[kind], Lines(map(Code, sorted(result.value(kind, "metrics")))),
        Lines(map(Code, sorted(own.value(kind, "metrics"))))] for kind in result.kinds()])

# %%
# The same numbers under other names: each of Lightning's suffixed values after the last epoch
# against the plain loop's value for that set.

runs.verdicts("clean_loss_is_idx_0", "clean_acc_is_idx_0", "noisy_loss_is_idx_1", "noisy_acc_is_idx_1")

# %%
# ### Both sets' curves, overlaid
#
# From the `own_names` run (3 epochs), where every implementation keeps each set's values per
# epoch under the same names; one panel per set and metric. Where the three lines coincide, the
# implementations computed the same numbers.

own.plot("history.val_loss_clean", "history.val_loss_noisy", "history.val_acc_clean", "history.val_acc_noisy",
         ylabel="", title="multiple_val: each validation set's loss and accuracy, every implementation overlaid")

# %%
# The numbers do not depend on the names: the `own_names` run against plain PyTorch, every
# per-epoch value of every set included. Lightning's per-set values can differ in the last
# digits: it divides its float32 sums in float32, the plain and Fabric loops divide in Python.

own.parity()

# %%

runs.verdicts("noisy_is_harder")

# %%
# --8<-- "gallery/shared/costs.md"
#
# In the recorded calls, look at the rows before the first training step: Lightning's sanity
# check validates two batches of **each** set (four forward passes in eval mode, without
# gradients) before training starts.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "`validation_step` must accept `dataloader_idx`"
#     With more than one validation loader, a `validation_step(self, batch, batch_idx)`
#     without the third argument stops `fit` at its first validation (the sanity check, before
#     any training step) with a `RuntimeError`:
#     "You provided multiple `val_dataloader`, but no `dataloader_idx` argument in
#     `Classifier.validation_step()`. Try adding `dataloader_idx=0` to its signature." Give it a
#     default (`dataloader_idx=0`) so the same module also runs with one loader.
#
# !!! warning "Monitor the full name"
#     `ModelCheckpoint(monitor="val_loss")` or `EarlyStopping(monitor="val_loss")` does not
#     find `val_loss` when it was logged from two loaders: the keys are
#     `val_loss/dataloader_idx_0` and `val_loss/dataloader_idx_1`. Both skip the sanity check and
#     stop `fit` at the first validation of training (here, the end of the first epoch), each with
#     its own error. In Lightning 2.6.6 `ModelCheckpoint` raises a `MisconfigurationException`:
#     "`ModelCheckpoint(monitor='val_loss')` could not find the monitored key in the returned
#     metrics: [...]" (`callbacks/model_checkpoint.py`); `EarlyStopping` raises a
#     `RuntimeError`: "Early stopping conditioned on metric `val_loss` which is not available.
#     Pass in or modify your `EarlyStopping` callback to use any of the following: ..."
#     (`callbacks/early_stopping.py`, `_validate_condition_metric`), so an `except
#     MisconfigurationException` does not catch it. Both messages list the keys that exist.
#     `EarlyStopping(..., strict=False)` raises nothing instead, warns only with `verbose=True`,
#     and never stops. Monitor `"val_loss/dataloader_idx_0"`, or log the set's name yourself with
#     `add_dataloader_idx=False`. The tests run all three cases.
#
# !!! warning "`add_dataloader_idx=False` with the same name in every set"
#     Turning the suffix off without making the names unique does not merge the sets: the
#     second loader's first `self.log("val_loss", ..., add_dataloader_idx=False)` raises a
#     `MisconfigurationException`: "You called `self.log(val_loss, ...)` twice in
#     `validation_step` with different arguments. This is not allowed". Put the set into the name, as the `own_names` run above does.
#     Since Lightning 2.5.3 such a name may itself contain `dataloader_idx_`
#     ([#20987](https://github.com/Lightning-AI/pytorch-lightning/pull/20987)); with the
#     default `add_dataloader_idx=True` a name containing `/dataloader_idx_` is refused.
#
# !!! note "Naming by index and letting Lightning add the suffix"
#     The `validation_step` docstring's example logs `f"val_loss_{dataloader_idx}"` with the
#     default `add_dataloader_idx=True`, which gives `val_loss_0/dataloader_idx_0`: the index
#     twice. Use one or the other.
#
# !!! note "The sanity check"
#     Before training, the `Trainer` validates `num_sanity_val_steps=2` batches of each
#     validation loader, in eval mode and without gradients, and changes none of the numbers
#     compared here.
#
# ??? info "The sets run one after the other"
#     Lightning evaluates validation loaders in sequence (`clean` to its end, then `noisy`),
#     as the plain loop's `for name, loader in val_loaders.items()` does, and it averages each
#     set's logged values over that set's batches only, weighted by batch size. A value logged
#     in `on_validation_epoch_end` has no loader, so it gets no suffix.

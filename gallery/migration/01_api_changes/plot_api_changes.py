"""
# API changes that break old tutorials

Lightning 2.0 (March 2023) removed a set of `Trainer` arguments and `LightningModule` hooks that
most tutorials written before it still use, including the article this site started from
(`Trainer(gpus=2, accelerator='gpu')`). Copying such code into a current environment fails,
sometimes with a clear message and sometimes not at all.

Every call below was **executed when this page was built**, against the installed Lightning:
first the old form, then its replacement. The boxes under each one say what happened.
"""

# %%
from evidence.api_changes.views import attempts

changes = attempts()
changes.stamp()

# %%
# ## `gpus=` and `tpu_cores=` became `accelerator=` and `devices=`
#
# The device type and the device count are now two arguments. `devices` takes a count, a list
# of indices or `"auto"`; a second machine is `num_nodes=2`.

changes.show("gpus")

# %%
# `tpu_cores=` went the same way: `accelerator="tpu", devices=8`. Where no TPU is present,
# `accelerator="auto"` picks what the machine has.

changes.show("tpu_cores")

# %%
# ## `resume_from_checkpoint=` became `fit(ckpt_path=)`
#
# Resuming is a property of one `fit` call, not of the `Trainer`. The new form restores the
# weights, optimizer, schedulers, loop counters and callbacks' state, then continues.

changes.show("resume_from_checkpoint")

# %%
# ## `precision=16` became `precision="16-mixed"`
#
# This one does not fail: the integer is still accepted "for historical reasons", with a
# warning. On a CPU there is a second surprise, shown in the warnings: fp16 automatic mixed
# precision is not supported there, and Lightning switches to bfloat16 instead.

changes.show("precision_16")

# %%
# ## `training_epoch_end(outputs)` became `on_train_epoch_end()`
#
# The same holds for `validation_epoch_end` and `test_epoch_end`. The new hooks receive no
# `outputs`: keep what you need on the module during the epoch and clear it at its end. A module
# that still defines an old hook fails when `fit` starts, not when it is defined.

changes.show("epoch_end_hooks")

# %%
# ## Other renames worth knowing
#
# Not executed here, listed so that a search for them lands on this page:
#
# | Lightning 1.x | Lightning 2.x |
# |---|---|
# | `Trainer(auto_select_gpus=True)` | removed: pick devices with `devices=` |
# | `Trainer(auto_lr_find=True)`, `auto_scale_batch_size=` | `pytorch_lightning.tuner.Tuner(trainer).lr_find(model)` / `.scale_batch_size(model)` |
# | `Trainer(strategy="dp")` | removed: use `"ddp"` |
# | `Trainer(replace_sampler_ddp=False)` | `Trainer(use_distributed_sampler=False)` |
# | `import pytorch_lightning as pl` | still works; the unified package is `import lightning.pytorch as pl` |

"""
# When the scheduler steps

A learning-rate schedule is written in some unit: `StepLR(step_size=2)` counts epochs, a
warm-up over 20 steps or `OneCycleLR(total_steps=...)` counts optimizer steps. Whoever calls
`scheduler.step()` decides which unit it really is. In a plain loop that is where you put the
call. In Lightning, `configure_optimizers` returns the scheduler and the `Trainer` calls
`step()`: after every optimizer step when the scheduler's dictionary says `"interval": "step"`,
and **once per epoch otherwise**, which is the default. A per-step schedule returned the default
way is then stepped per epoch, and nothing warns (for a `LambdaLR`, as here).

The programs train the minimal loop's classifier (SGD with momentum 0.9, peak rate 0.1) under
one per-step schedule, written as a `LambdaLR`: a linear warm-up over the first 20 optimizer
steps, then a linear decay to zero at the last step of the run. Each program records the
learning rate of every optimizer step (`optimizer.param_groups[0]["lr"]`, read just before the
step). They run twice: with the scheduler stepped after every optimizer step (the headline), and
with it stepped once per epoch, which is what Lightning does when the scheduler comes back
without an interval (the variant). The plain and Fabric loops place `scheduler.step()`
accordingly, so each run compares like with like.

**What Lightning takes off your hands:** the `scheduler.step()` call and its place, chosen by
`"interval"` (and `"frequency"`); and `trainer.estimated_stepping_batches`, the number of
optimizer steps the run will take, for building a per-step schedule. **Fabric** does not touch
schedulers: as in plain PyTorch, your loop steps them. [Learning-rate
schedules](../08_lr_schedules/plot_lr_schedules.md) shows a correctly configured `OneCycleLR` and
what `LearningRateMonitor` logs; this page is about the default interval.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). `--interval step` or
# `--interval epoch` picks where the scheduler is stepped; in the Lightning program, `epoch`
# returns the scheduler without an interval, the default way. The blocks marked
# `# region: not counted` record what `run()` returns or hold the command line; they are left out
# of the line counts.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     `logger=False` and `enable_checkpointing=False`: by default the `Trainer` writes logs and a
#     checkpoint under `lightning_logs/` in the working folder, files the reader did not ask for.
#     The progress bar and the model summary follow the quiet switch
#     (`enable_progress_bar=verbose`, `enable_model_summary=verbose`): on from the command line,
#     off in the timed runs. Everything else is Lightning's default, including the sanity check of
#     two validation batches before training, which changes no number compared here.
#
# ## Executed in this build: stepped after every optimizer step
#
# Each program ran once with its log captured, then under a memory probe, then in timed rounds
# alternating the order of the programs. Same seed, same data, same device and one torch
# thread for all of them. This is the page's headline run: the overview lists it.

from evidence import load
from evidence.views.topics import scheduler_interval as views

runs = load("scheduler_interval")
result = runs.headline
result.stamp()

# %%
# ### What each program printed
#
# Each epoch line shows the rate the next step will use. The line `Loading train_dataloader to
# estimate number of stepping batches` is Lightning's: `trainer.estimated_stepping_batches`, called
# in `configure_optimizers`, looks at the training loader before the fit loop does.

result.logs()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### Did they compute the same thing?
#
# The headline check is the learning rate of every optimizer step; the final weights and the
# per-epoch validation losses are compared as well. Lightning's validation loss is its float32
# mean, the loops divide in Python (float64): the last digits may differ.

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
# ### Time and memory

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Executed in this build: the default interval
#
# The same three programs with `--interval epoch` (logged run and memory run only, no timed
# rounds). Lightning gets the scheduler without an interval; the plain and Fabric loops call
# `scheduler.step()` after the last batch of each epoch, which is where Lightning's default puts
# it. The three agree with each other: the default is not a Lightning bug, it is a per-epoch
# schedule.

default = runs["default_interval"]
views.interval_sentence(default)

# %%

default.parity()

# %%
# ### The learning rate of every step, both ways
#
# One point per optimizer step, the three implementations overlaid in each panel. Stepped per
# step, the rate climbs to its peak in 20 steps and decays to zero by the end. Stepped per epoch,
# the schedule advances one of its steps per epoch: the rate is flat within each epoch and the run
# ends long before the warm-up does.

views.traces_figure(result, default)

# %%
# ### What the schedule did, counted
#
# From each program's records: how often the scheduler was stepped, how many steps the schedule
# was built for, the highest rate any optimizer step used and the last one. Both runs train for
# the same optimizer steps on the same batches; only the rates differ, and with them the
# validation loss the run ends with.

views.schedule_table(result, default)

# %%
# ## Pitfalls
#
# !!! warning "No interval means once per epoch"
#     Lightning builds an `LRSchedulerConfig` for every scheduler `configure_optimizers` returns,
#     and its `interval` field defaults to `"epoch"` (`pytorch_lightning/utilities/types.py`,
#     line 86, Lightning 2.6.6). A scheduler returned bare (`return [optimizer], [scheduler]`) or as
#     `{"optimizer": optimizer, "lr_scheduler": scheduler}` gets that default
#     (`core/optimizer.py`, lines 290 and 300); the training loop steps epoch-interval schedulers
#     once, after the last training batch of the epoch (`loops/training_epoch_loop.py`, lines
#     360–362). Step-based scheduling, the `"interval": "step"` key, exists since Lightning 0.7.0
#     (#941 in the CHANGELOG), and `"epoch"` is still the default in 2.6.6. This is the question of
#     [#5631](https://github.com/Lightning-AI/pytorch-lightning/issues/5631) ("lr_scheduler step()
#     called after every epoch instead of after every batch"), answered there by pointing at the
#     `"interval"` key. The tests of this topic run both forms (dictionary and bare list) and see
#     the rate move only at epoch ends.
#
# !!! warning "Nothing warns, except for OneCycleLR"
#     Lightning warns about a per-epoch interval only when the scheduler is a `OneCycleLR` returned
#     in a dictionary (`A OneCycleLR scheduler is using 'interval': 'epoch'`, since 1.5.0; returned
#     bare in a list, not even then; the tests run both). A warm-up
#     written with `LambdaLR`, `LinearLR` or a library's warm-up scheduler is stepped per epoch
#     without a word, as the variant above ran: the run trains, the loss goes down, only slower.
#     The tests check that the default run raises no warning at all.
#
# !!! warning "The key goes inside the scheduler's dictionary"
#     `{"optimizer": optimizer, "lr_scheduler": scheduler, "interval": "step"}` puts `"interval"`
#     beside the scheduler, where Lightning does not look for it: it warns `Found unsupported keys in
#     the optimizer configuration: {'interval'}` (a `RuntimeWarning`) and steps the scheduler per
#     epoch. The key belongs in `{"scheduler": scheduler, "interval": "step"}` (the tests run the
#     misplaced version).
#
# !!! note "If the rate still looks flat per step"
#     [#20436](https://github.com/Lightning-AI/pytorch-lightning/issues/20436) reports no change of
#     the rate within an epoch although `"interval": "step"` was set, with OneCycleLR sized by
#     `trainer.estimated_stepping_batches`. The headline run above is that configuration with a
#     warm-up instead of OneCycleLR, and its rate changes at every optimizer step. Check how the rate
#     is read before suspecting the scheduler: `LearningRateMonitor` writes it only when the logger
#     writes, every `log_every_n_steps` (default 50) optimizer steps, so a short epoch can show one
#     value or none (see [Learning-rate schedules](../08_lr_schedules/plot_lr_schedules.md)); reading
#     `optimizer.param_groups[0]["lr"]` in `training_step`, as the programs here do, shows every step.
#
# ??? info "Steps are optimizer steps"
#     With `"interval": "step"` the `Trainer` skips the scheduler while gradients accumulate
#     (`loops/training_epoch_loop.py`, line 458): the schedule counts optimizer steps, as
#     `trainer.estimated_stepping_batches` does. A plain loop that accumulates has to put
#     `scheduler.step()` next to `optimizer.step()`, inside the same condition.
#
# ??? info "Where the plain loop steps"
#     `scheduler.step()` comes after `optimizer.step()` (PyTorch warns when it comes first, and the
#     first value of the schedule is skipped). For a per-step schedule the call is inside the batch
#     loop; for a per-epoch one, after it. The same schedule object serves both: only the place of
#     the call says which unit its numbers are in.

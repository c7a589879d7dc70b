"""
# Training by steps

Large trainings are counted in optimizer steps, not epochs: train for `max_steps`, validate every
so many steps, save a checkpoint every so many steps, and, when the job is stopped (a cluster's
time limit, a crash), resume from the last checkpoint, which usually lies in the middle of an
epoch. The question is whether the resumed run is the run that would have happened without the
interruption, and what that takes.

The model and data are the minimal loop's (a two-layer classifier on synthetic data, SGD with
momentum 0.9 at rate 0.1), with 200 training samples in batches of 16. The training batches are
shuffled by a `SubsetRandomSampler` with its own seeded `torch.Generator`, which draws one
permutation per epoch. The model has no dropout, so the order of the batches is the only
randomness during training ([Resuming an interrupted run](../06_resuming/plot_resuming.md)
covers the random number generators).

**What Lightning takes off your hands:** `Trainer(max_steps=...)` counts optimizer steps and stops
there, in the middle of an epoch if need be; `val_check_interval=n` with
`check_val_every_n_epoch=None` validates every n training batches across epoch boundaries;
`ModelCheckpoint(every_n_train_steps=n)` saves every n optimizer steps; and `fit(ckpt_path=...)`
restores the weights, the optimizer, the step and epoch counters and the position within the
epoch, and calls `load_state_dict` on a training loader that has one. **What it does not do:** a
`torch.utils.data.DataLoader` has no state, so nothing tells the resumed run which batches of the
interrupted epoch are left or in which order; the Lightning program therefore gives its training
loader `state_dict` / `load_state_dict` (`ResumableLoader`, a `DataLoader` subclass). The plain
and Fabric loops save the same two things in their own checkpoint dictionaries: the loader
generator's state when the epoch started, and the number of batches done.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart (Lightning and
# Fabric against plain PyTorch; PyTorch against Lightning). `run()`, which trains twice and
# compares, is the page's experiment and not counted as lines of code. `--max-steps`,
# `--val-every`, `--ckpt-every` and `--resume-from` set the schedule; `--epochs` adds an upper
# bound in epochs (Lightning's `max_epochs`), off by default. The Lightning program's
# `--plain-dataloader` trains on a `torch.utils.data.DataLoader` instead of the resumable one.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     - `check_val_every_n_epoch=None` (default 1): with an integer `val_check_interval`, the
#       default counts batches within each epoch; `None` counts them over the whole run, which is
#       what "every n steps" means (see the Pitfalls).
#     - `ModelCheckpoint(every_n_train_steps=..., save_top_k=-1, filename="{step}",
#       enable_version_counter=False)` replaces the default checkpoint callback (one checkpoint per
#       epoch, the last one kept). `enable_version_counter=False` overwrites `step=20.ckpt` when
#       the program runs again in the same folder instead of writing `step=20-v1.ckpt` beside it,
#       so `--resume-from` always finds this run's file.
#     - `logger=False`: the default logger would write a `lightning_logs/` folder the reader did not
#       ask for. The progress bar and the model summary follow the quiet switch.
#
#     `max_epochs` is left unset: with `max_steps` given, Lightning then sets no epoch limit
#     (`max_epochs=-1`, `pytorch_lightning/loops/utilities.py`, line 80). The sanity check of two
#     validation batches before training stays on; it changes no weight.
#
# ## Executed in this build: resumed in the middle of an epoch
#
# Each program ran once with its log captured, then under a memory probe, then in timed rounds
# alternating the order of the programs. Same seed, same data, same device and one torch thread
# for all of them. This is the page's headline run: the overview lists it.

from evidence import load
from evidence.views.topics import step_training as views

runs = load("step_training")
result = runs.headline
result.stamp()

# %%

views.plan(result)

# %%
# ### What each program printed
#
# Lightning logs where it restored from (`Restored all states from the checkpoint ...`); the
# resumed trainings print only the validations after the checkpoint's step.

result.logs()

# %%
# ### Resumed against uninterrupted, in each implementation
#
# Each program compares its own resumed weights with its own uninterrupted weights.

views.resume_table(result)

# %%
# ### Validation losses

views.curves_figure(result)

# %%
# ### Did the implementations compute the same thing?
#
# The resumed final weights of Lightning and Fabric against plain PyTorch, each program's resume
# difference, and the validation losses. Same data order in all three, also after resuming.

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
#
# Each run is two trainings (the uninterrupted steps and the resumed ones), with checkpoints
# written every few steps and one read back.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Executed in this build: Lightning resuming a torch DataLoader
#
# The same run, with the Lightning program training on a plain `torch.utils.data.DataLoader`
# (`--plain-dataloader`; logged and memory runs only). The plain and Fabric programs are
# unchanged. Lightning restores everything it holds, including the batch counter of the
# interrupted epoch, but the loader restarts: the resumed epoch takes its remaining batches from
# a new pass over a freshly seeded generator, that is, the first batches of the first epoch's
# order, and every later epoch is one permutation behind.

plain = runs["plain_dataloader"]
views.resume_table(plain)

# %%

views.curves_figure(plain)

# %%

plain.parity()

# %%
# ### What the resumed trainings warned
#
# The programs record the warnings their resumed training raises, to show them here (the page's
# machinery does not publish raw warning lines). With a plain `DataLoader`, Lightning warns that
# it cannot resume the epoch; with the resumable loader it does not. In both, `ModelCheckpoint`
# notes that its folder already holds checkpoints (the first training's, which the resumed one
# continues).

views.warnings_table(result, plain)

# %%
# ## Pitfalls
#
# !!! warning "A mid-epoch checkpoint needs the loader's position"
#     A `torch.utils.data.DataLoader` has no `state_dict`: resumed from a checkpoint taken inside an
#     epoch, Lightning 2.6.6 warns `You're resuming from a checkpoint that ended before the epoch
#     ended and your dataloader is not resumable` (a `PossibleUserWarning`,
#     `pytorch_lightning/loops/training_epoch_loop.py`, lines 222–230) and trains on, with a data
#     order that differs from the uninterrupted run's (the variant above). Since Lightning 2.2.0 the
#     `Trainer` saves the state of a training loader that has `state_dict` / `load_state_dict` in the
#     checkpoint and restores it before the first batch (#19361), and it no longer warns for such a
#     loader since #19475 (first released in 2.3.0). [#18780](https://github.com/Lightning-AI/pytorch-lightning/issues/18780)
#     argues that resuming inside an epoch is normal for long trainings; with a loader that saves
#     its position, as here, it is also exact. See also
#     [#17543](https://github.com/Lightning-AI/pytorch-lightning/issues/17543).
#
# !!! warning "What the loader's state has to hold"
#     The position alone is not enough: the order of the interrupted epoch came from the shuffling
#     generator's state *when that epoch began*. `ResumableLoader` saves that state and the number of
#     batches it has handed out, and on resume draws the same permutation again and skips the
#     batches already trained on; the plain and Fabric loops do the same with
#     `itertools.islice(train_loader, position, None)`. Skipping this way still loads the skipped
#     batches (cheap for a tensor dataset, not for images decoded from disk); a sampler that can
#     start at an index avoids that. Lightning iterates a sized loader without fetching ahead, so
#     the count the loader keeps is the count of batches trained on (`loops/fetchers.py`,
#     `_PrefetchDataFetcher.__iter__`: no pre-fetching when the length is known).
#
# !!! warning "An integer `val_check_interval` counts within the epoch by default"
#     With the default `check_val_every_n_epoch=1`, `val_check_interval=5` validates after batch 5,
#     10, ... *of each epoch* (`loops/training_epoch_loop.py`, line 559: `self.batch_idx`), not every
#     5 steps of the run, and no longer at the end of the epoch; an interval longer than the epoch
#     raises `ValueError` (`loops/fit_loop.py`, lines 295–305). `check_val_every_n_epoch=None` counts
#     batches over the whole run (`self.total_batch_idx`); intervals longer than an epoch are
#     accepted that way since Lightning 1.7.0 (#11993). The tests run both.
#
# !!! note "Steps are optimizer steps, intervals are batches"
#     `max_steps` and `ModelCheckpoint(every_n_train_steps=...)` count optimizer steps
#     (`trainer.global_step`); `val_check_interval` counts training batches. They agree here, one
#     batch per step; with `accumulate_grad_batches=2`, `val_check_interval=4` validates every second
#     optimizer step (the tests run it). A plain loop that counts one thing for all three avoids the
#     question.
#
# ??? info "What else a resumed run needs"
#     Here the weights, the optimizer (SGD's momentum buffers) and the step counter, plus the loader's
#     state. A learning-rate scheduler's state, the random number generators of dropout or data
#     augmentation, and the state of callbacks (early stopping, the best checkpoint so far) come on
#     top; [Resuming an interrupted run](../06_resuming/plot_resuming.md) shows what each one costs
#     when it is forgotten.

"""
# Distributed data parallel (DDP)

Data-parallel training runs one process per device. Every process holds a full copy of the
model, trains on its own share of each epoch's data, and the gradients are averaged across
processes in `backward()`, so every copy takes the same optimizer step and the weights stay
equal. Here the world is two processes on the CPU, talking through the `gloo` backend; with
`--device cuda` and two GPUs the same programs use `nccl`.

- **PyTorch**: each process calls `init_process_group` (which reads the address, its rank and
  the world size from the environment), builds a `DistributedSampler` (and calls `set_epoch`
  every epoch), wraps the model in `DistributedDataParallel`, reduces its metrics with
  `all_reduce`, and keeps printing, logging and saving behind `if rank == 0:`;
- **Lightning**: `Trainer(strategy="ddp", devices=2)` adds the sampler, wraps the model,
  reduces what `self.log(..., sync_dist=True)` logs, and its logger and checkpoint callback
  write on rank 0 only;
- **Fabric**: `Fabric(strategy="ddp", devices=2)` and `fabric.launch()`; `setup_dataloaders`
  adds the sampler and sets its epoch, `fabric.all_reduce` reduces, and `fabric.print`,
  `fabric.log_dict` and `fabric.save` act on rank 0 only.

**How the processes start.** A launcher starts the ranks: `torchrun --nproc-per-node 2
pytorch_ddp.py` starts the file twice, with `MASTER_ADDR`, `MASTER_PORT`, `WORLD_SIZE`, `RANK`
and `LOCAL_RANK` set, waits, and stops every rank when one fails; each copy finds `LOCAL_RANK`
set and trains as one rank (`train()`). In each program `run()` calls that launcher itself,
`python -m torch.distributed.run --standalone --nproc-per-node=2` (what the `torchrun` command
runs; `--standalone` picks a free port on this machine), so `python pytorch_ddp.py` runs the
whole job and `run()` can be called from another program, as this site's build does. `run()`
prints what the ranks printed once the job has ended.

Lightning and Fabric, finding the variables set, start no process of their own (under
`torchrun`, `TorchElasticEnvironment`). Run without them, `Trainer(strategy="ddp")` and
`fabric.launch()` start the other ranks themselves by running your command again
(`_SubprocessScriptLauncher`, in `pytorch_lightning/strategies/launchers/subprocess_script.py`
and in Fabric's `launchers` folder), which inside the site's worker would run the worker again.

When the ranks have finished, `run()` reads back what rank 0 wrote, as a user of the job does:
the checkpoint (the trained network `run()` returns) and the per-epoch metrics file (its
history: the plain loop writes it with `csv`, the `Trainer` and Fabric through their
`CSVLogger`). Those are the values this page compares.
"""

# %%
# ## The three programs
#
# The training is `train()`; `run()` starts the ranks with `torchrun` and reads back the files
# rank 0 wrote, the same in all three files apart from the files they read.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# Each job ran once, printing as from the command line: `torchrun`'s note on `OMP_NUM_THREADS`,
# then what the ranks printed, in the order they wrote it. Rank 1's lines in the Lightning and
# Fabric jobs (`[rank: 1] Seed set to 0`, `Initializing distributed: GLOBAL_RANK: 1`) show the
# second process running the same file. The `Trainer`'s arguments are not listed: it was built in the rank
# processes, which the harness does not see (no timed rounds either: a job's time is almost all
# process start-up and imports).

from evidence import load

runs = load("ddp")
result = runs.headline
result.executed()

# %%
# ### Loss curves, overlaid
#
# Each loss is the mean over both ranks' samples: the plain and Fabric loops sum losses and
# sample counts on each rank and add them up with `all_reduce`; Lightning's
# `self.log(..., sync_dist=True)` syncs a sum and a count too (see
# [below](#what-sync_disttrue-computes)). `DistributedSampler` shuffles with the same seed in
# all three: Lightning and Fabric create it with the seed `seed_everything` stored in
# `PL_GLOBAL_SEED`.

result.plot("history.train_loss", "history.val_loss", title="ddp: loss curves of every implementation, overlaid")

# %%
# ### What rank 0 left in the output folder
#
# Each job's folder once it ended (the `gather` entry of the run in `runs.toml` lists it). One
# metrics file and one checkpoint: rank 1 wrote nothing (the tests record every file each rank
# opens for writing). Every program saves a checkpoint after every epoch, the same work in all
# three (the tests count rank 0's saves): the plain and Fabric loops overwrite one file,
# Lightning's default `ModelCheckpoint` writes `epoch=<n>-step=<m>.ckpt` and removes the older
# one, so only the last is left.

result.per_implementation({"files in the output folder": "files"})

# %%
# ### Two ranks of 32 rows, one process of 64
#
# `DistributedSampler` deals each epoch's shuffled order out in turn: rank 0 gets positions 0, 2,
# 4, …, rank 1 positions 1, 3, 5, …. So the 32 rows of rank 0's k-th batch and the 32 of rank
# 1's are together the 64 rows of the k-th batch of a single process (its sampler, with one
# replica, draws the same order), and averaging the two ranks' gradients gives the gradient of
# that batch of 64. The variant run `one_process` starts one rank with `--batch-size 64`; each
# program is checked against itself:

runs.verdicts("one_process_train_loss")

# %%
# Only rounding can differ: the mean over 64 rows is summed in another order than the mean of
# two means over 32 (the tests compare the final weights of the two runs too: within 1e-6).
#
# ### What `sync_dist=True` computes
#
# The validation rows are read as five shards of 32, the way a dataset stored in files is
# read: rank `r` takes shards `r`, `r + 2`, … (`Shards`, an `IterableDataset`): rank 0 three
# shards, rank 1 two. Every row is validated exactly once. (A `DistributedSampler` would pad
# the ranks to equal shares by repeating rows; Lightning and Fabric add one only to a map-style
# dataset, never to an `IterableDataset`: `_requires_distributed_sampler` in
# `pytorch_lightning/trainer/connectors/data_connector.py` and in `lightning_fabric/fabric.py`.)
#
# For an epoch-level value (`on_epoch=True`, the default in `validation_step`), Lightning
# accumulates on each rank the sum of value × batch size and the sum of the batch sizes, and at
# the end of the epoch reduces both across ranks before dividing one by the other
# (`_ResultMetric.update` and `compute` in
# `pytorch_lightning/trainer/connectors/logger_connector/result.py`). That is the mean over all
# samples, which the plain and Fabric loops compute with `all_reduce` of a sum and a count. The
# one-process run validates all 160 rows itself, with weights equal to the two-rank job's up to
# rounding, so its validation loss is the mean over samples:

runs.verdicts("sample_mean")

# %%
# A mean of the two ranks' means would weight rank 1's 64 rows like rank 0's 96; the tests
# recompute it from the saved weights and check that the logged value is not that one.
#
# --8<-- "gallery/shared/costs.md"
#
# Here the memory probe is off as well (it measures the process that calls `run()`, which only
# launches the ranks). The recorded calls are rank 0's: the recorded pass runs each job once
# more with the recorder started inside the rank-0 process (rank 1 takes the same optimizer
# steps on the same weights, and only rank 0 logs and saves).

result.costs()

# %%
# ## GPUs, several machines, and the old `gpus=` argument
#
# The same training code scales out by changing how it is started, not the loop:
#
# | | plain PyTorch | Lightning | Fabric |
# |---|---|---|---|
# | 4 GPUs, one machine | `python pytorch_ddp.py --device cuda --devices 4` (backend `nccl`, `DistributedDataParallel(model, device_ids=[rank])`), or `torchrun --nproc-per-node 4 pytorch_ddp.py --device cuda` | `python lightning_ddp.py --device cuda --devices 4`: `Trainer(accelerator="cuda", devices=4, strategy="ddp")` | `python fabric_ddp.py --device cuda --devices 4`: `Fabric(accelerator="cuda", devices=4, strategy="ddp")`, `fabric.launch()` |
# | 2 machines × 4 GPUs | `torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 train.py` on each machine | `Trainer(..., devices=4, num_nodes=2)`, started on each machine by `torchrun` or your cluster | `Fabric(..., devices=4, num_nodes=2)` |
# | SLURM | `srun` with `#SBATCH --ntasks-per-node=4`; read `SLURM_PROCID` / `SLURM_LOCALID` yourself | `srun python train.py`: Lightning reads the SLURM variables (`devices` and `num_nodes` must match `--ntasks-per-node` and `--nodes`) | the same as Lightning |
#
# Lightning 1.x selected GPUs with `Trainer(gpus=2)`. That argument was removed in 2.0; old
# code that still passes it fails when the `Trainer` is built. What
# `pl.Trainer(gpus=2, accelerator="gpu")` did on the installed Lightning, attempted in this build
# (the run behind [the API changes page](../../migration/01_api_changes/plot_api_changes.md)):

from evidence.api_changes.views import attempts, outcome

outcome(attempts().case("gpus")["old"])

# %%
# The Lightning 2.x form is `pl.Trainer(accelerator="gpu", devices=2, strategy="ddp")`.
#
# ## Pitfalls
#
# !!! warning "Forgetting `sampler.set_epoch(epoch)`"
#     In plain PyTorch, a `DistributedSampler` shuffles with `seed + epoch`; without
#     `set_epoch` every epoch sees the same order. Lightning calls it for you, and so does a
#     loader returned by `fabric.setup_dataloaders`.
#
# !!! warning "Metrics are per rank until you reduce them"
#     Without `all_reduce` (plain), `fabric.all_reduce` or `self.log(..., sync_dist=True)`
#     each rank reports the loss of its own shard. With `sync_dist=True` an epoch-level value is
#     the mean over all samples (above). What weights the ranks equally is a **per-step** value:
#     `self.log(..., on_step=True, sync_dist=True)` reduces each step's value with the mean over
#     the ranks as it is (`self._forward_cache = self.meta.sync(value.clone())` in
#     `_ResultMetric.update`), whatever each rank's batch size; so does averaging per-rank means
#     yourself (`fabric.all_reduce(mean, reduce_op="mean")`). The test
#     `tests/test_ddp/test_ddp.py` runs a two-rank probe: rank 0 holding three samples of 1.0 and
#     rank 1 one sample of 5.0 log 2.0 at the epoch level and 3.0 per step.
#
# !!! warning "A sample count the ranks cannot share evenly (Lightning 2.0.7 to 2.6.6 at least)"
#     The count behind an epoch-level mean is an integer, and `sync_dist` reduces it with a
#     mean across ranks. Since Lightning 2.0.7 (the in-place reduction of
#     [#18235](https://github.com/Lightning-AI/pytorch-lightning/pull/18235)), on `gloo` that
#     mean is copied back into the integer tensor (`_sync_ddp` in
#     `lightning_fabric/utilities/distributed.py`), so it is floored; the bug report says the
#     same of `nccl`'s average. When the ranks' total is not a multiple of the number of ranks,
#     the logged value is too large: with three samples of 1.0 on rank 0 and two of 5.0 on
#     rank 1 the probe above logs 3.25 = (13 / 2) / 2, not 13 / 5 = 2.6. Open as
#     [Lightning issue #21859](https://github.com/Lightning-AI/pytorch-lightning/issues/21859).
#     Here the ranks validate 96 and 64 rows: 160 is a multiple of 2, so the count is exact.
#
# !!! note "Who starts the processes"
#     Started without `LOCAL_RANK`, `Trainer(strategy="ddp")` and `fabric.launch()` start the
#     other ranks by running your command again, so everything the script does before and after
#     `fit` runs once per rank: guard printing and saving with `trainer.is_global_zero` /
#     `fabric.is_global_zero`. Started by `torchrun` (as here) or SLURM, they start nothing. `strategy="ddp_spawn"` uses `torch.multiprocessing` instead, which
#     needs everything passed to `fit` to be picklable and is slower to start. In a notebook,
#     only `ddp_notebook` (fork) works.
#
# !!! note "Ending the ranks: the call, and what must not hold the group when it runs"
#     PyTorch's documentation asks every rank to call `torch.distributed.destroy_process_group()`
#     when it has finished communicating. Lightning does it for you only with NCCL: since 2.3.0,
#     `_init_dist_connection` (in `lightning_fabric/utilities/distributed.py`) registers an
#     `atexit` handler that destroys the group when the backend is `nccl`, and none for `gloo`
#     (the tests start a gloo group the way Lightning does and find it still initialized when
#     the interpreter's teardown begins). So all three programs make the call. With gloo the
#     call ends the group only if nothing else holds it, and two things do, each with a failure
#     this site's builds met (a few lines reproduce both, counted on the contributing page):
#
#     - **`torch.distributed.nn`**, imported after the group exists, binds it into its
#       functions' default arguments for good; constructing `DistributedDataParallel` imports
#       it (torch 2.13, through `torch._dynamo`). The group then lives into the interpreter's
#       teardown, where a gloo thread still freeing the last `all_reduce` can abort the
#       finished rank: "terminate called without an active exception" (PyTorch's
#       [#65513](https://github.com/pytorch/pytorch/pull/65513) is the same message). The
#       plain programs import `torch.distributed.nn` before `init_process_group`; Lightning
#       and Fabric import `torch._dynamo` when they are imported (2.6.6, in
#       `lightning_fabric/wrappers.py`), so they never pin it.
#     - **The DDP wrapper's reducer.** A group still held by it ends when the wrapper is
#       freed, and that can deadlock: the reducer is freed with the GIL held, the group's
#       destructor waits for a gloo thread, and that thread waits for the GIL. The plain and
#       Fabric programs release the wrapper (`del model`, after keeping `model.module`)
#       before the call; Lightning's `Trainer` unwraps it itself when `fit` ends
#       (`DDPStrategy.teardown`; the tests check it with 2.6.6).
#
#     The tests run each program as torchrun runs it and check that the group ends in the
#     call (its gloo threads are gone right after it), and that torch still pins the group, so
#     that the import is dropped when a torch release no longer needs it. On GPUs (NCCL) the
#     call is harmless: Lightning's handler then finds nothing left to destroy.
#
# !!! note "`--device` on a machine with one GPU"
#     With `--device auto`, `run()` picks CUDA only where there are as many GPUs as ranks, else
#     the CPU: `Trainer(accelerator="auto", devices=2)` on a machine with one GPU would pick the
#     GPU and then fail for lack of a second one.
#
# ??? info "Why only rank 0 writes"
#     Lightning's loggers and `ModelCheckpoint` write on global rank 0 only (the path is
#     broadcast from rank 0 so every rank agrees on it); `fabric.save` and `fabric.log_dict`
#     do the same. In plain PyTorch it is your `if rank == 0:`: without it both ranks append to
#     the same metrics file and write the same checkpoint at once.
#
# ??? info "The Lightning program's `Trainer`"
#     `Trainer(max_epochs=epochs, accelerator=device, devices=devices, strategy="ddp",
#     logger=CSVLogger(out_dir))`: everything else keeps its default, the progress bar, the model
#     summary and the sanity-check validation included (they change none of the numbers
#     compared here). `CSVLogger` replaces the default logger (TensorBoard, where installed) so
#     that the history is a CSV file, as the other two programs write it; `log_every_n_steps=50`
#     makes Lightning warn that an epoch has fewer batches than that (the program logs epoch
#     values only, so nothing is lost).

"""
# Distributed data parallel (DDP)

Data-parallel training runs one process per device. Every process holds a full copy of the
model, trains on its own shard of each epoch's data, and the gradients are averaged across
processes in `backward()`, so every copy takes the same optimizer step and the weights stay
equal. Here the world is two processes on the CPU, talking through the `gloo` backend; with
`--device cuda` and two GPUs the same programs use `nccl`.

- **PyTorch**: `torch.multiprocessing.spawn` starts the processes; each calls
  `init_process_group`, builds a `DistributedSampler` (and calls `set_epoch` every epoch),
  wraps the model in `DistributedDataParallel`, reduces its metrics with `all_reduce`, and
  keeps printing, logging and saving behind `if rank == 0:`;
- **Lightning**: `Trainer(strategy="ddp", devices=2)` starts the second process, adds the
  sampler, wraps the model, reduces what `self.log(..., sync_dist=True)` logs, and logs and
  checkpoints on rank 0 only;
- **Fabric**: `Fabric(strategy="ddp", devices=2)` and `fabric.launch()` start the second
  process; `setup_dataloaders` adds the sampler and sets its epoch, `fabric.all_reduce` reduces,
  and `fabric.print`, `fabric.log_dict` and `fabric.save` act on rank 0 only.

**How the processes start.** Each program is started the way its users start it, with one
command and no launcher around it (the table below shows the commands this build ran):

- `python pytorch_ddp.py`: `launch()` sets `MASTER_ADDR` and `MASTER_PORT` (unless the
  environment has them) and calls
  `torch.multiprocessing.spawn(train, nprocs=2)`, which starts two fresh interpreters and calls
  `train(rank, args)` in each; the process you started waits for them.
- `python lightning_ddp.py`: the process you started becomes rank 0. When `trainer.fit` runs,
  Lightning's launcher (`_SubprocessScriptLauncher` in
  `pytorch_lightning/strategies/launchers/subprocess_script.py`) sets `MASTER_ADDR`,
  `MASTER_PORT`, `NODE_RANK` and `WORLD_SIZE`, and runs the same command again
  (`sys.executable` with `sys.argv`) with `LOCAL_RANK=1`. That copy runs the whole script from
  the top; at its own `fit` it finds `LOCAL_RANK` set and starts nothing.
- `python fabric_ddp.py`: `fabric.launch()` does the same, through Fabric's launcher of the same
  name (`lightning_fabric/strategies/launchers/subprocess_script.py`).

The site calls each program's `run()` inside its own worker process, where Lightning's launcher
would run the worker again rather than the program. So `run()` (in each file, in a block marked
not counted) starts the program file itself as above, with a temporary output folder, and reads
back what every rank saved there. Every rank also records, through a Python audit hook, each
file it opens for writing in the output folder: that is the "which rank wrote what" evidence
below.
"""

# %%
# ## The three programs
#
# The highlighted lines are those a program does not share with its counterpart; the block
# that starts the file and collects the ranks' records is the same in all three and is not
# counted.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Each program ran its two-process job once with the output captured, then once more under the
# memory probe. No timed rounds: a job's time is almost all process start-up and imports.

from evidence import load
from evidence.views.topics import ddp as views

result = load("ddp").headline
result.stamp()

# %%
# ### The command each reader types
#
# Every job was started with its program's command and the options of this run; the program
# started the other process itself:

views.commands_table(result)

# %%
# ### What each job printed
#
# What the terminal shows: both ranks write to it. The epoch lines come from rank 0 only.
# Rank 1's lines (`[rank: 1] Seed set to 0`, `Initializing distributed: GLOBAL_RANK: 1`) in the
# Lightning and Fabric jobs show the script running a second time.

result.logs()

# %%
# ### Loss curves, overlaid
#
# Each loss is the mean over both ranks' samples: the plain and Fabric loops sum losses and
# sample counts on each rank and add them up with `all_reduce`; Lightning's
# `self.log(..., sync_dist=True)` syncs a sum and a count too (see
# [below](#what-sync_disttrue-computes)).

result.plot("history.train_loss", "history.val_loss", title="ddp: loss curves of every implementation, overlaid")

# %%
# ### Did they compute the same thing?
#
# The final weights of rank 0 of each job are compared with those of the plain PyTorch job,
# and so are the logged losses. `DistributedSampler` shuffles with the same seed in all three:
# Lightning and Fabric create it with the seed `seed_everything` stored in `PL_GLOBAL_SEED`,
# so each rank gets the same samples in every implementation.

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
# ### Equal weights on every rank, and who wrote which file
#
# After training, each rank saved its own copy of the weights; the table gives the largest
# difference between rank 0 and rank 1, the samples each rank trained and validated on, and
# the files each rank opened for writing (recorded in that rank's process).

views.ranks_table(result)

# %%
# Lightning's `ModelCheckpoint` saved after each epoch and removed the older file, so the run
# folder ends up holding only the last checkpoint:

views.files_table(result)

# %%
# ### What `sync_dist=True` computes
#
# The validation rows are read as five shards of 32, the way a dataset stored in files is
# read: rank `r` takes shards `r`, `r + 2`, … (`Shards`, an `IterableDataset`). Every row is
# validated exactly once, and the ranks hold different numbers of rows. (A `DistributedSampler`
# would pad the ranks to equal shares by repeating rows; Lightning and Fabric add one only to a
# map-style dataset, never to an `IterableDataset`: `_requires_distributed_sampler` in
# `pytorch_lightning/trainer/connectors/data_connector.py` and in `lightning_fabric/fabric.py`.)
#
# For an epoch-level value (`on_epoch=True`, the default in `validation_step`), Lightning
# accumulates on each rank the sum of value × batch size and the sum of the batch sizes, and at
# the end of the epoch reduces both across ranks before dividing one by the other
# (`_ResultMetric.update` and `compute` in
# `pytorch_lightning/trainer/connectors/logger_connector/result.py`, Lightning 2.6.6). That is
# the mean over all samples, which the plain and Fabric loops compute with `all_reduce` of a
# sum and a count; it is not the mean of the ranks' means, which would weight the ranks
# equally:

views.weighting_verdict(result)

# %%

views.weighting_table(result)

# %%
# ### Time and memory
#
# The time is that of one whole job: starting the processes, importing torch (and Lightning),
# joining the process group and training three small epochs. The memory column measures only
# the site's worker process, which starts the job and does no training; the peak resident
# memory of each rank is in the table above.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## GPUs, several machines, and the old `gpus=` argument
#
# The same training code scales out by changing how it is started, not the loop:
#
# | | plain PyTorch | Lightning | Fabric |
# |---|---|---|---|
# | 4 GPUs, one machine | `python pytorch_ddp.py --device cuda --devices 4` (backend `nccl`, `DistributedDataParallel(model, device_ids=[rank])`); or `torchrun --nproc-per-node 4 train.py` for a script that reads `RANK` and `LOCAL_RANK` instead of spawning | `python lightning_ddp.py --device cuda --devices 4`: `Trainer(accelerator="cuda", devices=4, strategy="ddp")` | `python fabric_ddp.py --device cuda --devices 4`: `Fabric(accelerator="cuda", devices=4, strategy="ddp")`, `fabric.launch()` |
# | 2 machines × 4 GPUs | `torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 train.py` on each machine | `Trainer(..., devices=4, num_nodes=2)`, started on each machine by `torchrun` or your cluster | `Fabric(..., devices=4, num_nodes=2)` |
# | SLURM | `srun` with `#SBATCH --ntasks-per-node=4`; read `SLURM_PROCID` / `SLURM_LOCALID` yourself | `srun python train.py`: Lightning reads the SLURM variables (`devices` and `num_nodes` must match `--ntasks-per-node` and `--nodes`) | the same as Lightning |
#
# Lightning 1.x selected GPUs with `Trainer(gpus=2)`. That argument was removed in 2.0; old
# code that still passes it fails when the `Trainer` is built. What
# `pl.Trainer(gpus=2, accelerator="gpu")` did on the installed Lightning, attempted in this build
# (the run behind [the API changes page](../../migration/01_api_changes/plot_api_changes.md)):

views.old_gpus_argument()

# %%
# The Lightning 2.x form is `pl.Trainer(accelerator="gpu", devices=2, strategy="ddp")`.
#
# ## Pitfalls
#
# !!! note "Defaults the programs change"
#     - `--device` defaults to `cpu` in all three programs (not `auto`), so the command runs
#       anywhere: with `accelerator="auto"` and `devices=2`, a machine with one GPU would pick
#       the GPU and then fail for lack of a second one.
#     - `logger=CSVLogger(...)`: the `Trainer` would log to TensorBoard where it is installed;
#       a CSV file is what the plain and Fabric programs write too.
#     - `enable_progress_bar=verbose, enable_model_summary=verbose`: on from the command line,
#       off in the quiet run. Everything else is left at its default, including the
#       sanity-check validation (`num_sanity_val_steps=2`), which changes none of the numbers
#       compared here, and `log_every_n_steps=50`, which makes Lightning warn that an epoch has
#       fewer batches than that (the program logs epoch values only, so nothing is lost).
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
#
# !!! note "Who starts the processes"
#     Run without `LOCAL_RANK` set, `Trainer(strategy="ddp")` and `fabric.launch()` start the
#     other ranks by running your command again, so everything the script does before and after
#     `fit` runs once per rank: guard printing and saving with `trainer.is_global_zero` /
#     `fabric.is_global_zero` (the programs print their last line on rank 0 only). Started by
#     `torchrun` or SLURM instead, they start nothing. `strategy="ddp_spawn"` uses
#     `torch.multiprocessing` instead, which needs everything passed to `fit` to be picklable and
#     is slower to start. In a notebook, only `ddp_notebook` (fork) works.
#
# ??? info "Why the recorded writes, and why only rank 0 writes"
#     Lightning's loggers and `ModelCheckpoint` write on global rank 0 only (the path is
#     broadcast from rank 0 so every rank agrees on it); `fabric.save` and `fabric.log_dict`
#     do the same. In plain PyTorch it is your `if rank == 0:`: without it both ranks append to
#     the same metrics file and write the same checkpoint at once.

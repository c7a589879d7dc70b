"""
# Distributed data parallel (DDP)

Data-parallel training runs one process per device. Every process holds a full copy of the
model, trains on its own shard of each epoch's data, and the gradients are averaged across
processes in `backward()`, so every copy takes the same optimizer step and the weights stay
equal. Here the world is two processes on the CPU, talking through the `gloo` backend; on
GPUs the same programs use `nccl`.

- **PyTorch**: `init_process_group`, a `DistributedSampler` per loader (with `set_epoch`
  every epoch), the model wrapped in `DistributedDataParallel`, metrics reduced with
  `all_reduce`, and `if rank == 0:` around printing, logging and saving;
- **Lightning**: `Trainer(strategy="ddp", devices=2)`; the sampler, the wrapper, the metric
  reduction (`self.log(..., sync_dist=True)`) and rank-0-only logging and checkpointing are
  done by the `Trainer`;
- **Fabric**: `Fabric(strategy="ddp", devices=2)` and `fabric.launch()`; `setup_dataloaders`
  adds the sampler and sets its epoch, `fabric.all_reduce` reduces, and `fabric.print`,
  `fabric.log_dict` and `fabric.save` act on rank 0 only.

**How the processes start.** Each program's `run()` starts two copies of its own file as
child processes, with the environment variables `torchrun` would set (`MASTER_ADDR`,
`MASTER_PORT`, `WORLD_SIZE`, `RANK`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `GROUP_RANK`), and
collects what each rank saved in a temporary folder. Lightning and Fabric recognise that
environment and do not start processes themselves. Every rank records, through a Python audit
hook, each file it opens for writing in the run folder: that is the "which rank wrote what"
evidence below.
"""

# %%
# ## The three programs
#
# The launcher (`launch`, `run`) and the write recorder are the same in all three files; the
# highlighted lines are the training code that differs.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Each program ran its two-rank job once with the log captured, then once more under the memory
# probe. No timed rounds: a job's time is almost all process start-up and imports.

from evidence import load
from evidence.views.topics import ddp as views

result = load("ddp").headline
result.stamp()

# %%
# ### What each job printed
#
# Each line carries the rank whose output it is. The epoch lines come from rank 0 only; in the
# Lightning and Fabric jobs rank 1 prints only the framework's own set-up line.

result.logs()

# %%
# ### Loss curves, overlaid
#
# The losses are averaged over both ranks' samples (the plain and Fabric loops sum losses and
# counts with `all_reduce`; Lightning averages the two ranks' epoch means, which is the same
# number here because both shards hold 256 samples).

result.plot("history.train_loss", "history.val_loss", title="ddp: loss curves of every implementation, overlaid")

# %%
# ### Did they compute the same thing?
#
# The final weights of rank 0 of each job are compared with those of the plain PyTorch job.
# `DistributedSampler` shuffles with the same seed in all three (Lightning and Fabric take it
# from `seed_everything`), so each rank gets the same samples in every implementation.

result.parity()

# %%
# ### Equal weights on every rank, and who wrote which file
#
# After training, each rank saved its own copy of the weights; the table gives the largest
# difference between rank 0 and rank 1, the samples each rank trained on in the last epoch,
# and the files each rank opened for writing (recorded in that rank's process).

views.ranks_table(result)

# %%
# Lightning's `ModelCheckpoint` saved after each epoch and removed the older file, so the run
# folder ends up holding only the last checkpoint:

views.files_table(result)

# %%
# ### Time and memory
#
# The time is that of one whole job: starting two Python processes, importing torch (and
# Lightning), joining the process group and training three small epochs. The memory column
# measures only the launching process, which does no training; the peak resident memory of each
# rank is in the table above.

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
# | 4 GPUs, one machine | `torchrun --nproc-per-node 4 train.py`, backend `nccl`, `DistributedDataParallel(model, device_ids=[local_rank])` | `Trainer(accelerator="gpu", devices=4, strategy="ddp")`, then `python train.py` | `Fabric(accelerator="gpu", devices=4, strategy="ddp")`, `fabric.launch()` |
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
# !!! warning "Forgetting `sampler.set_epoch(epoch)`"
#     In plain PyTorch, a `DistributedSampler` shuffles with `seed + epoch`; without
#     `set_epoch` every epoch sees the same order. Lightning calls it for you, and so does a
#     loader returned by `fabric.setup_dataloaders`.
#
# !!! warning "Metrics are per rank until you reduce them"
#     Without `all_reduce` (plain), `fabric.all_reduce` or `self.log(..., sync_dist=True)`
#     each rank reports the loss of its own shard. `sync_dist=True` averages the ranks' values,
#     which weights ranks equally even when their shards differ in size; `DistributedSampler`
#     pads the last shard by repeating samples unless `drop_last=True`.
#
# !!! note "Who starts the processes"
#     Run without the `torchrun` variables, `Trainer(strategy="ddp")` starts the other ranks
#     itself by running your command line again, so everything at the top level of the script
#     runs once per rank. `strategy="ddp_spawn"` uses `torch.multiprocessing` instead, which
#     needs everything passed to `fit` to be picklable and is slower to start. In a notebook,
#     only `ddp_notebook` (fork) works.
#
# ??? info "Why the recorded writes, and why only rank 0 writes"
#     Lightning's loggers and `ModelCheckpoint` write on global rank 0 only (the path is
#     broadcast from rank 0 so every rank agrees on it); `fabric.save` and `fabric.log_dict`
#     do the same. In plain PyTorch it is your `if rank == 0:`: without it both ranks append to
#     the same metrics file and write the same checkpoint at once.

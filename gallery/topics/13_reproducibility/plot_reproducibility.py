"""
# Reproducibility: seeds, DataLoader workers and deterministic mode

A run is reproducible when training it again gives bitwise the same weights. The programs here
train a small classifier on data augmented *inside the `Dataset`*: each sample is scaled by a
factor drawn from NumPy's RNG and gets Gaussian noise from torch's RNG, in two `DataLoader`
worker processes (`num_workers=2`). Every program trains twice in the same process and
compares the two sets of weights.

- **PyTorch**: `random.seed`, `np.random.seed` and `torch.manual_seed` by hand, a
  `worker_init_fn` that seeds NumPy and `random` in each worker from `torch.initial_seed()`
  (the recipe in PyTorch's reproducibility notes), a seeded `generator=` for the shuffling,
  and `torch.use_deterministic_algorithms(True)`;
- **Lightning**: `seed_everything(seed, workers=True)` and `Trainer(deterministic=True)`; the
  `Trainer` adds its own `worker_init_fn` to the loaders;
- **Fabric**: `seed_everything(seed, workers=True)`; `fabric.setup_dataloaders` adds the same
  `worker_init_fn`; deterministic algorithms are switched on by hand.

On the CPU the deterministic switch changes nothing for this model (its operations are already
deterministic there); it matters on GPUs, where some kernels use atomic additions. Lightning's
`deterministic=True` also sets `CUBLAS_WORKSPACE_CONFIG`, which cuBLAS needs for
deterministic matrix products.
"""

# %%
# ## The three programs
#
# <!-- implementations -->
#
# ## Executed in this build: seeded workers
#
# Each program trained twice (`runs=2`) in one call; the log shows both runs.

from evidence import load
from evidence.views.topics import reproducibility as views

runs = load("reproducibility")
result = runs.headline
result.stamp()

# %%
# ### What each program printed
#
# The last lines give a short hash of each run's final weights and a summary of the scale
# factors the workers drew.

result.logs()

# %%
# ### Two runs of each program: bitwise identical?
#
# The first column is the largest difference between the two runs' weights; the hashes are
# SHA-256 prefixes of the raw bytes of all weights.

views.runs_table(result)

# %%

views.seeding_outcome(result)

# %%
# ### The same seed across implementations
#
# Where the weights of Lightning and Fabric are not those of the plain program, the reason is
# the worker seeding: the plain `worker_init_fn` seeds NumPy with `torch.initial_seed() % 2**32`,
# while Lightning's `pl_worker_init_function` (used by the `Trainer` and by Fabric) derives new
# seeds for torch, `random` and NumPy from the base seed, the worker id and the global rank
# (`lightning_fabric/utilities/seed.py`). The scale factors and the noise differ, so the
# training differs. Lightning and Fabric use the same function, so they draw the same numbers.

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
# To check that the worker seeding is the only cause, the programs ran again without it
# (`seed_workers=False`: no `worker_init_fn`, `seed_everything(workers=False)`), once each:

unseeded = runs["unseeded_workers"]
views.parity_outcome(unseeded)

# %%

unseeded.parity()

# %%
# That run also shows that leaving out the `worker_init_fn` is **not** what breaks
# reproducibility with the global NumPy RNG any more: since PyTorch 1.9 each worker seeds
# `random`, torch and NumPy's global RNG from its own base seed:

configurations = {"seeded workers": result, "no worker seeding": unseeded}
views.draws_outcome(configurations)

# %%

views.draws_by_configuration(configurations)

# %%
# ## What still goes wrong: a NumPy Generator stored on the Dataset
#
# The modern way to draw random numbers in NumPy is a `Generator`: `np.random.default_rng(seed)`.
# Created in the dataset's `__init__`, it is copied into each worker process with its state,
# and neither the `DataLoader`, nor the `worker_init_fn` above, nor Lightning's seeds it again.
# The programs ran once more with `shared_generator=True`:

shared = runs["shared_generator"]
views.draws_table(shared)

# %%
# With two workers, the `DataLoader` hands batches to them in turn (batch 1 to worker 0, batch 2
# to worker 1, and so on). Each worker starts from the same copy of the `Generator`, so
# consecutive batches draw the same factors, and each epoch starts new workers from that copy
# again:

views.twins_outcome(shared, "pytorch")

# %%
# The first two batches of each epoch, for plain PyTorch:

views.first_batches_figure(result, shared, "pytorch")

# %%
# The fix is to seed the generator per worker, for example in a `worker_init_fn`:
# `info = torch.utils.data.get_worker_info(); info.dataset.rng = np.random.default_rng(info.seed)`
# (`info.seed` differs per worker and per epoch and follows the DataLoader's `generator`).
#
# ### Time and memory (seeded workers)
#
# Each call trains twice, and every epoch starts two worker processes.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! note "Defaults the Lightning program changes"
#     - `deterministic=True`: the subject of this page (the default is `None`, which leaves
#       PyTorch's setting alone).
#     - `logger=False` and `enable_checkpointing=False`: by default a `Trainer` writes a
#       `lightning_logs/` folder with a logger's files and a checkpoint, files this program's
#       reader did not ask for.
#     - `enable_progress_bar=verbose, enable_model_summary=verbose`: on from the command line,
#       off in the quiet runs the harness times, where no implementation prints anything.
#
#     Everything else is left at its default, including the sanity-check validation
#     (`num_sanity_val_steps=2`), which changes none of the numbers compared here: without worker
#     seeding the Lightning weights equal the plain ones bit for bit (above).
#
# !!! warning "Same seed, different numbers"
#     Moving a script from plain PyTorch to Lightning with `seed_everything(workers=True)`
#     changes the random numbers drawn in the workers, even with the same seed: runs are
#     reproducible within one setup, not across setups. Compare implementations with
#     `workers=False` or with augmentation switched off.
#
# !!! warning "State that travels to the workers"
#     Anything random held by the dataset object (a NumPy `Generator`, a `random.Random`, a
#     `torch.Generator`) is copied into every worker unchanged. Only the global RNGs are
#     seeded per worker. With the `fork` start method (Linux default before Python 3.14) the
#     copies are identical; with `spawn` or `forkserver` the dataset is pickled and the same
#     happens.
#
# !!! note "`workers=True` matters with several ranks"
#     The DataLoader's own per-worker seeds depend on the base seed drawn from the loader's
#     generator, which is the same on every DDP rank given the same seed. Lightning's
#     `worker_init_fn` mixes in the global rank, so the ranks' workers draw different
#     augmentations.
#
# ??? info "What deterministic mode does and does not do"
#     `torch.use_deterministic_algorithms(True)` makes operations without a deterministic
#     implementation raise an error instead of silently varying; it does not seed anything.
#     `Trainer(deterministic=True)` calls it and sets `CUBLAS_WORKSPACE_CONFIG=:4096:8`;
#     `deterministic="warn"` only warns. On GPUs also keep `torch.backends.cudnn.benchmark`
#     off (Lightning does when `deterministic=True`).

"""
# Reproducibility: seeds, DataLoader workers and deterministic mode

A run is reproducible when training it again gives bitwise the same weights. The programs here
train a small classifier on data augmented *inside the `Dataset`*: each sample is scaled by a
factor drawn from NumPy's RNG and gets Gaussian noise from torch's RNG, in two `DataLoader`
worker processes (`num_workers=2`). The `Dataset` returns each sample's factor with it, and
`run()` returns the factors of every training batch (`scales`), so the draws can be compared.

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
# --8<-- "gallery/shared/executed.md"
#
# Here the implementations are expected **not** to match plain PyTorch (the run declares
# `expect = "differs"`): Lightning's `pl_worker_init_function` (used by the `Trainer` and by
# Fabric) derives new seeds for torch, `random` and NumPy from the base seed, the worker id and
# the global rank (`lightning_fabric/utilities/seed.py`), while the plain `worker_init_fn`
# seeds NumPy with `torch.initial_seed() % 2**32`. The scale factors and the noise differ, so
# the training differs.

from evidence import load

runs = load("reproducibility")
seeded = runs.headline
seeded.executed()

# %%
# ### Trained again: bitwise identical?
#
# The build ran the same declaration a second time (`seeded_again`), and compares what each
# program logged and what its workers drew, bit for bit, against its first run (the tests also
# compare the weights of two runs: bitwise equal). Lightning and Fabric use the same worker
# seeding, so they draw the same factors:

runs.verdicts("bitwise_again", "lightning_is_fabric")

# %%
# ### Without worker seeding the implementations match
#
# To check that the worker seeding is the only cause of the difference above, the programs ran
# again without it (`seed_workers=False`: no `worker_init_fn`, `seed_everything(workers=False)`),
# with the weights compared bit for bit (tolerance 0):

unseeded = runs["unseeded_workers"]
unseeded.parity()

# %%
# That run also shows that leaving out the `worker_init_fn` is **not** what breaks
# reproducibility with the global NumPy RNG any more: since PyTorch 1.9 each worker seeds
# `random`, torch and NumPy's global RNG from its own base seed. The factors drawn by the two
# workers, and by the same worker in the next epoch, are different either way:

runs.verdicts("global_rng_workers_differ", "global_rng_epochs_differ", "unseeded_workers_differ",
              "unseeded_epochs_differ")

# %%
# ## What still goes wrong: a NumPy Generator stored on the Dataset
#
# The modern way to draw random numbers in NumPy is a `Generator`: `np.random.default_rng(seed)`.
# Created in the dataset's `__init__`, it is copied into each worker process with its state,
# and neither the `DataLoader`, nor the `worker_init_fn` above, nor Lightning's seeds it again.
# The programs ran once more with `shared_generator=True`. With two workers, the `DataLoader`
# hands batches to them in turn (batch 1 to worker 0, batch 2 to worker 1, and so on); each
# worker starts from the same copy of the `Generator`, and each epoch starts new workers from
# that copy again:

shared = runs["shared_generator"]
runs.verdicts("shared_generator_workers_repeat", "shared_generator_epochs_repeat")

# %%
# The factors of the first two batches of epochs 1 and 2, drawn by the plain program (batch
# 1 comes from worker 0, batch 2 from worker 1; 13 batches make an epoch):

from evidence.views import figures

fig, axes = figures.panels(2, sharey=True)
for ax, (title, source) in zip(axes, {"global NumPy RNG, seeded workers": seeded,
                                      "Generator stored on the Dataset": shared}.items()):
    drawn = source.value("pytorch", "scales")
    for index, style in ((0, "o-"), (1, "s:"), (13, "^--"), (14, "v-.")):
        epoch, batch = divmod(index, 13)
        ax.plot(drawn[index], style, alpha=0.8, label=f"epoch {epoch + 1}, batch {batch + 1} (worker {batch % 2})")
    figures.finish(ax, title=title, xlabel="sample within the batch", legend=False)
axes[0].set_ylabel("scale factor drawn")
axes[1].legend(fontsize=7)
fig.suptitle("Scale factors drawn by the two workers: with a Generator on the Dataset the lines coincide")
fig.tight_layout()

# %%
# The fix is to seed the generator per worker, for example in a `worker_init_fn`:
# `info = torch.utils.data.get_worker_info(); info.dataset.rng = np.random.default_rng(info.seed)`
# (`info.seed` differs per worker and per epoch and follows the DataLoader's `generator`).
#
# --8<-- "gallery/shared/costs.md"
#
# Each call trains once, and every epoch starts two worker processes.

seeded.costs()

# %%
# ## Pitfalls
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

"""
# Keeping the best checkpoints

Save a checkpoint whenever the validation loss enters the best *k* seen so far, delete the one
it pushes out, and keep a `last.ckpt` beside them; afterwards, load the best one back and
predict with it. The model and data are those of the minimal loop (Adam at `lr=0.03`, so that
the validation loss goes up and down and the best epochs are not simply the last ones).

**What Lightning takes off your hands:** `ModelCheckpoint(monitor="val_loss", save_top_k=k,
save_last=True)` does the ranking, the file names, the deletions and the bookkeeping of the best
path, and `load_from_checkpoint` rebuilds the module from the saved hyperparameters. What it
writes is a larger file: besides weights and optimizer state, a Lightning checkpoint records
the loop counters, each callback's state and the hyperparameters (the table below lists it all).
**Fabric** keeps your ranking code; `fabric.save` / `fabric.load` turn the model and optimizer
into state dicts and back (and would gather sharded states on several devices).

All three programs follow Lightning's rules exactly, so that they keep the same files: a
checkpoint enters the top *k* only if its loss is strictly lower than the worst one kept, and
`last.ckpt` is refreshed only when a top-*k* file was written (see the pitfalls).
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each program
# writes into its own `--ckpt-dir` (default `checkpoints_torch`, `checkpoints_lightning`,
# `checkpoints_fabric` in the current directory), replacing any `.ckpt` files already there.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# Ten epochs, the best three checkpoints kept. Each program ran once with its log captured,
# then under a memory probe, then three timed rounds (every run writes its checkpoints again).

from evidence import run_topic

result = run_topic("checkpointing", params={"epochs": 10, "seed": 0, "save_top_k": 3},
                   compare=["best_predictions", "kept_epochs", "kept_files", "state_dict"], tolerance=0.0,
                   repeats=3)
result.stamp()

# %%
# ### What each program printed

result.logs()

# %%
# ### Which epochs were kept
#
# The validation loss of every epoch, with the epochs whose checkpoints survived marked. The
# three implementations' curves lie on top of each other.

import matplotlib.pyplot as plt

from evidence.programs import LABELS

fig, ax = plt.subplots(figsize=(7, 3.6))
for kind, style in zip(result.kinds(), ("-o", "--s", ":^")):
    ax.plot(result.value(kind, "history.val_loss"), style, label=LABELS[kind], alpha=0.7)
val_loss = result.value("pytorch", "history.val_loss")
kept = result.value("pytorch", "kept_epochs")
ax.scatter(kept, [val_loss[e] for e in kept], s=250, facecolors="none", edgecolors="red", linewidths=2,
           label="kept (top 3)", zorder=5)
ax.set_xlabel("epoch (zero-based, as in the file names)")
ax.set_ylabel("validation loss")
ax.set_title("Validation loss per epoch and the checkpoints kept")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()

# %%
# The files left in each folder at the end, the epochs they hold and the file the best score
# points to, as each program returned them (names relative to its checkpoint folder):

from evidence.views.topic import table

rows = []
for kind in result.kinds():
    contents = result.value(kind, "checkpoints")
    rows.append([LABELS[kind], ", ".join(f"<code>{f}</code>" for f in result.value(kind, "kept_files")),
                 str(result.value(kind, "kept_epochs")), f"<code>{result.value(kind, 'best_file')}</code>",
                 str(contents["last.ckpt"]["keys"]["epoch"]["value"])])
table(["implementation", "files kept", "top-k epochs", "best", "epoch inside last.ckpt"], rows)

# %%
# ### Same files, same best model
#
# The headline check loads each program's best checkpoint into a fresh network and compares
# its predictions on the validation set; the kept epochs, the file names and the final weights
# are compared as well.

result.parity()

# %%
# ### What is inside a checkpoint
#
# Every top-level key of `last.ckpt`, as each program described it after reading the file
# back: the type, and for containers the number of tensors and their bytes. The plain and
# Fabric programs hold exactly what they were given; Lightning adds the rest.


def cell(info):
    if info is None:
        return "–"
    if info["type"] == "tensor":
        return f"tensor {info['shape']}, {info['tensor_bytes']} B"
    if "value" in info:
        value = info["value"]
        return f"{info['type']} <code>{value:.5g}</code>" if isinstance(value, float) else \
            f"{info['type']} <code>{value}</code>"
    size = f"{info['tensors']} tensors, {info['tensor_bytes']} B" if info["tensors"] else "no tensors"
    if info["type"] == "list":
        return f"list of {info['length']}, {size}"
    return f"dict of {len(info['keys'])}, {size}"


contents = {kind: result.value(kind, "checkpoints")["last.ckpt"] for kind in result.kinds()}
keys = list(contents["lightning"]["keys"]) + [k for k in contents["pytorch"]["keys"]
                                              if k not in contents["lightning"]["keys"]]
rows = [[f"<code>{k}</code>"] + [cell(contents[kind]["keys"].get(k)) for kind in result.kinds()] for k in keys]
rows.append(["<em>file size</em>"] + [f"{contents[kind]['file_bytes']:,} B" for kind in result.kinds()])
table(["key"] + [LABELS[kind] for kind in result.kinds()], rows)

# %%
# The weights themselves are the same 210 numbers (840 bytes) in every file; Lightning stores
# them under the attribute name of the network in the `LightningModule` (`model.0.weight`
# rather than `0.weight`). The model's tensors, as recorded:

shapes = {kind: result.value(kind, "checkpoints")["last.ckpt"]["keys"][
    "state_dict" if kind == "lightning" else "model"]["shapes"] for kind in result.kinds()}
table([LABELS[kind] + " key" for kind in result.kinds()] + ["shape"],
      [[f"<code>{name}</code>" for name in names] + [str(shapes["pytorch"][names[0]])]
       for names in zip(*(list(shapes[kind]) for kind in result.kinds()))])

# %%
# What Lightning's extra entries hold, one level down:

extra = contents["lightning"]["keys"]
table(["key", "holds"],
      [[f"<code>{k}</code>", "<br>".join(f"<code>{sub}</code>" for sub in extra[k]["keys"]) or "(empty)"]
       for k in ("loops", "callbacks", "hyper_parameters")]
      + [[f"<code>callbacks → ModelCheckpoint</code>",
          "<br>".join(f"<code>{sub}</code>" for sub in next(iter(extra["callbacks"]["items"].values()))["keys"])]])

# %%
# ### Time and memory
#
# Every run writes and deletes checkpoint files, so disk speed is part of these numbers.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "`save_last=True` is not the final epoch"
#     Since Lightning 2.x, `last.ckpt` is written only when the callback saves some other
#     checkpoint in the same epoch. Here the final epoch did not enter the top 3, so
#     `last.ckpt` holds an earlier one (the "epoch inside last.ckpt" column above; the tests
#     check that this is the most recent epoch that entered the top k, and the plain programs
#     copy the rule). To always have
#     the final state, add a second `ModelCheckpoint()` without a monitor (it keeps the latest
#     epoch) or call `trainer.save_checkpoint(...)` after `fit`.
#
# !!! note "Epochs in file names start at 0"
#     `filename="{epoch:02d}"` formats `trainer.current_epoch`, which counts from zero; the
#     plain programs name their files the same way.
#
# !!! note "Ties and strictness"
#     A new score replaces the worst kept one only if it is strictly lower (`torch.lt`); a tie
#     keeps the older file. A `NaN` score is stored as `+inf`, so it never ranks as best.
#
# !!! warning "Absolute paths inside the file"
#     Lightning's callback state stores `dirpath`, `best_model_path` and the paths of the kept
#     files as absolute paths. Moving the folder does not break loading the weights, but a
#     resumed run will look for (and try to delete) files at the old paths. The programs here
#     return names relative to their folder.
#
# ??? info "Loading back"
#     `Classifier.load_from_checkpoint(path)` needs `self.save_hyperparameters()` in
#     `__init__` to rebuild the module; `weights_only` loading is not used because the file
#     holds more than tensors. The plain program loads with `torch.load(..., weights_only=True)`:
#     its checkpoints hold only tensors, numbers and dicts.

"""
# Test, predict and ship

After training come three jobs: measure the model once on data it has never seen (the test
set), write its predictions for new inputs to a file, and hand the trained network over as an
artefact that runs without your training code. Each program trains the minimal loop's network
with validation (Adam at `lr=0.03`, so that the validation loss goes up and down and the best
epoch is not simply the last), keeps the weights of the best validation epoch, tests them,
writes its predictions on the test rows to `predictions.pt` and exports the network with
`torch.export` to `model.pt2`. The harness reads both files back after each program's run.

- **Plain PyTorch:** `torch.save` the state dict when the validation loss improves, load it
  back, a test loop (eval mode, `no_grad`, device-side sums), a prediction loop, then
  `torch.export.export` and `torch.export.save`.
- **Lightning:** `ModelCheckpoint(monitor="val_loss")` keeps the best checkpoint;
  `trainer.test(ckpt_path="best", dataloaders=...)` loads it and runs `test_step`;
  `trainer.predict` runs `predict_step` and hands the outputs to a `BasePredictionWriter`
  callback that writes the file; the `LightningModule` itself is exported (it has a `forward`).
- **Fabric:** your loops as in plain PyTorch, `fabric.save` / `fabric.load` for the best
  weights, and `torch.export` of the unwrapped network, `model.module`.

**What Lightning takes off your hands:** the test and prediction loops (eval mode, no gradients
(`torch.inference_mode`), moving batches, collecting the outputs), averaging the logged test
metrics over the batches, finding and loading the best checkpoint, and writing predictions
from a callback (which also gathers them across processes on several devices). **Fabric**
moves the batches and saves and loads the state; the loops and the bookkeeping of the best
epoch are yours. Exporting is `torch.export` in every style: Lightning adds nothing to it, and
the exported program needs only `torch`.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each program
# writes its files into `--out-dir` (the current folder by default; here each program gets a
# folder of its own); `--test-with final` tests the final weights instead of the best ones (the
# second run below). The Lightning program empties its `checkpoints/` folder first, so that a
# second run starts as the first did.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# Lightning's log shows the checkpoint `trainer.test(ckpt_path="best")` restored, and its
# table of test metrics. The test loss can differ from the loops' in the last digits:
# Lightning averages the logged batch values in float32, the plain and Fabric loops divide a
# float32 sum in Python (float64).

from evidence import load

runs = load("test_predict_export")
result, final = runs.headline, runs["final"]
result.executed()

# %%
# ### Which weights were tested
#
# The headline run tests the best validation epoch's weights; the `final` run, the same
# programs with `--test-with final`, tests the weights after the last epoch. The validation loss
# of every epoch, overlaid:

result.plot("history.val_loss", title="Validation loss of every implementation: the best epoch is not the last")

# %%
# What each implementation kept as its best validation loss, and what the test set says about
# the weights it tested, in the headline run and then in the `final` run:

scores = {"best validation loss": "best_val_loss", "test loss": "test_loss", "test accuracy": "test_accuracy"}
result.per_implementation(scores, caption="run best: tested with the best checkpoint")

# %%

final.per_implementation(scores, caption="run final: tested with the final weights")

# %%
# Here the final weights do better on the test set than the epoch chosen on validation: both
# sets are small, so either loss is a noisy estimate, and picking the best of several epochs on
# the validation set favours an epoch that was lucky there. The test set's job is to say so.

runs.verdicts("best_is_not_last", "best_is_epoch_4", "same_training", "final_tests_better")

# %%
# ### Predictions written, and the exported program
#
# `predictions.pt` holds the logits each program's prediction step produced for the test rows,
# on the device it trained on; `model.pt2` the network, moved to the CPU and exported. The
# harness read both back after each program's run (`model.pt2` with `torch.export.load`):
# the files each program left in its folder, the shape of its predictions, and the inputs and
# weights of its exported program. The checks of the run above compare the predictions and the
# exported weights with plain PyTorch's. The tests also run every `model.pt2` in an
# environment holding only `torch` (importing `pytorch_lightning` fails there) and get exactly
# the logits in `predictions.pt`.

result.per_implementation({
    "files written": "files",
    "predictions": lambda r: f"{len(r['predictions'])} × {len(r['predictions'][0])}",
    "model.pt2 takes": lambda r: " × ".join(map(str, r["exported"]["inputs"][0])),
    "its weights": lambda r: ", ".join(r["exported"]["weights"]),
})

# %%

runs.verdicts("exported_on_cpu", "exported_batch_is_free")

# %%
# --8<-- "gallery/shared/costs.md"
#
# Each run includes the test, the prediction and the export. `torch.export` traces the network
# once per run; its one-time start-up (importing the tracer) falls in the first run.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "What `trainer.test()` uses when you give it no checkpoint"
#     `ckpt_path` defaults to `None`, and what `None` means depends on whether you pass a model
#     (`_parse_ckpt_path` in `pytorch_lightning/trainer/connectors/checkpoint_connector.py`):
#
#     - `trainer.test(model, dataloaders=...)`: the model as it is, with no checkpoint loaded.
#       Right after `fit`, that is the **final** weights.
#     - `trainer.test(dataloaders=...)` after `fit`, without a model: the **best** checkpoint,
#       `ckpt_path="best"`, with a warning saying so ("The best model of the previous `fit` call
#       will be used").
#
#     The `None` default and its warning date from Lightning 1.5.0 (pull request #8352, in the
#     CHANGELOG as "The model weights now get loaded in all cases when the checkpoint path gets
#     provided in validate/test/predict, regardless of whether the model instance is provided or
#     not"). In 1.4 the default was `ckpt_path="best"`, ignored whenever a model was passed: the
#     two calls above had the same outcome as now, without the warning, and an explicit path was
#     ignored too when a model was passed. The tests check both cases and the warning.
#     Write `ckpt_path="best"` or pass the model, so that the reader does not have to know.
#
# !!! warning "\"best\" is only as good as the monitor"
#     `ckpt_path="best"` is the `best_model_path` of the first `ModelCheckpoint`. The default
#     checkpoint callback monitors nothing, so its "best" is simply the latest epoch it saved:
#     with default settings, `trainer.test(dataloaders=...)` tests the final weights (the tests
#     check it). To test the best validation epoch, configure
#     `ModelCheckpoint(monitor="val_loss")` as the program does.
#
# !!! warning "`trainer.test(ckpt_path=...)` loads into your module"
#     The checkpoint's weights are loaded into the `LightningModule` you trained, in place:
#     after `trainer.test(ckpt_path="best")`, `module` holds the best epoch's weights, not the
#     final ones, and whatever you predict, save or export afterwards is that epoch. That is what
#     the program wants here; when it is not, keep a copy of the final state dict first (the
#     tests check the in-place load).
#
# !!! note "`BasePredictionWriter` and memory"
#     A writer with `write_interval="epoch"` (since Lightning 1.3.0) receives every batch's
#     prediction at the end, so the prediction loop keeps them all, moved to the CPU, even with
#     `return_predictions=False` (`pytorch_lightning/loops/prediction_loop.py`: predictions are
#     kept when `return_predictions` is set *or* any writer writes on epoch end; the tests check
#     that the writer receives every batch). For more predictions than fit in memory, write
#     per batch: `write_interval="batch"` and `write_on_batch_end`.
#
# !!! note "Exporting with Fabric: the module, not the wrapper"
#     `fabric.setup` returns a wrapper whose `forward(*args, **kwargs)` takes any arguments, so
#     `torch.export.export(model, (x,), dynamic_shapes=...)` on it fails ("Detected mismatch
#     between the structure of `inputs` and `dynamic_shapes`"; the tests pin it). Export the
#     network it wraps, `model.module`, as the program does. A `LightningModule` exports as it
#     is when its `forward` takes the inputs: the exported program records only torch
#     operations and the tensors, under the module's names (`model.0.weight`).
#
# ??? info "A batch dimension of any size, on the CPU"
#     `dynamic_shapes=({0: torch.export.Dim("batch")},)` marks the first dimension of the input
#     as variable: without it the program accepts only the example's batch size of 8 (the tests
#     check that a program exported without it refuses 128 rows). Every program moves the
#     network to the CPU before exporting, so `model.pt2` holds CPU tensors and loads on a
#     machine without a GPU.

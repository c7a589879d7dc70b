"""
# The command line

A training script is run many times with different settings, and a result is only worth
something if the run that made it can be made again. So the script needs options on the command
line, a config file that holds a run's settings, a way to override one of them for one run, and
a way to write down the settings a run actually used. Each program below does all four, and
each saves the settings of every run it trains (`config.json`, or LightningCLI's `config.yaml`),
so that the same run can be made again from that file.

- **Plain PyTorch:** `argparse` options; `--config file.json` loads the file into the parser's
  defaults, so that anything given on the command line overrides it; `--print-config` prints the
  resolved options as JSON; `run()` writes them to `config.json`. Range checks are written by hand.
- **Lightning:** `LightningCLI` builds the command line from the `__init__` signatures of the
  `LightningModule`, the `LightningDataModule` and the `Trainer`: `--model.lr`,
  `--data.batch_size`, every `Trainer` argument as `--trainer.<name>`, YAML config files with
  `--config`, `--print_config`, and a `config.yaml` of the resolved settings saved when `fit`
  starts. The program subclasses it to add `--epochs` and `--device`, linked to
  `trainer.max_epochs` and `trainer.accelerator` (`parser.link_arguments`), and links
  `seed_everything` to the data module's seed. It passes `run=False` and calls
  `cli.trainer.fit(...)` itself, so its command line has no subcommand; `run()` is
  LightningCLI's "run from Python" form, the same settings given as a dict (`args={...}`).
- **Fabric:** the same `argparse` program as plain PyTorch, with Fabric in the training
  function. Fabric has no config system. The command line it ships
  (`python -m lightning_fabric.cli script.py`, `fabric run` in the `lightning` package; it needs
  `click`) launches a script on devices with an accelerator, a strategy and a precision, and
  leaves the script's own options to the script.

**What Lightning takes off your hands:** declaring the options (they come from the type hints
and defaults of the classes' `__init__`), reading and merging config files, printing and saving
the resolved config, and checking the types. `jsonargparse` does the parsing; LightningCLI
needs it with its `signatures` extra, `pip install "jsonargparse[signatures]"`, and the program
says so when it is missing.

| | a run from a config file, one value overridden | print the resolved config | the same run again |
|---|---|---|---|
| PyTorch | `python pytorch_cli.py --config my.json --lr 0.01` | `... --print-config` | `python pytorch_cli.py --config config.json` |
| Lightning | `python lightning_cli.py --config my.yaml --model.lr 0.01` | `... --print_config` | `python lightning_cli.py --config config.yaml` |
| Fabric | `python fabric_cli.py --config my.json --lr 0.01` | `... --print-config` | `python fabric_cli.py --config config.json` |
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. In this topic the
# command line is the task: every line of it counts.
#
# <!-- implementations -->
#
# ## Executed in this build
#
# --8<-- "gallery/shared/executed.md"
#
# The harness calls each program's `run()` with the same settings (3 epochs, seed 0, a
# learning rate of 0.01), each in a folder of its own, and reads back the configuration file
# the program saved there. LightningCLI hands the `Trainer` every one of its arguments, so the
# table of `Trainer` arguments below lists them all.

from evidence import load
from evidence.views import codes

cli = load("cli")
result = cli.headline
result.executed()

# %%
# ### Loss curves, overlaid

result.plot("history.train_loss", "history.val_loss")

# %%
# ### The settings each run wrote down
#
# Each file holds what the run used, the learning rate of this run included; Lightning's holds
# the program's linked `--epochs` where `trainer.max_epochs` would otherwise be.

cli.verdicts("pytorch_saved_lr", "fabric_saved_lr", "lightning_saved_lr", "lightning_saved_epochs")

# %%
# The files side by side: the argparse programs save the options they declare, LightningCLI the
# whole parser, every `Trainer` argument among them.

result.per_implementation({
    "saved file": lambda impl: codes(impl["saved"]),
    "top-level settings": lambda impl: codes(*(entry["values"] for entry in impl["saved"].values())),
    "lines": lambda impl: [entry["text"].count("\n") for entry in impl["saved"].values()],
})

# %%
# LightningCLI's `config.yaml`, as saved:

print(result.value("lightning", 'saved["config.yaml"].text'))

# %%
# The plain program's `config.json` (Fabric's is the same file):

print(result.value("pytorch", 'saved["config.json"].text'))

# %%
# --8<-- "gallery/shared/costs.md"
#
# Each run includes building the command line: LightningCLI builds its parser from the
# signatures of the `Trainer`, the `LightningModule` and the `LightningDataModule` in every run.

result.costs()

# %%
# ## Pitfalls
#
# !!! warning "Order matters on a LightningCLI command line"
#     jsonargparse applies the arguments from left to right: `--config file.yaml --model.lr 0.01`
#     runs with 0.01, but `--model.lr 0.01 --config file.yaml` runs with the file's value,
#     silently. The plain program loads the file into the parser's defaults, so an option on the
#     command line wins wherever it stands. The tests check both, and that each program's saved
#     config, given back with `--config`, trains the same weights bit for bit.
#
# !!! warning "Types are checked, ranges are not"
#     LightningCLI checks each value against the type hint: `--model.hidden abc` is refused.
#     `--trainer.max_epochs -1` is accepted, because -1 is a valid value: the `Trainer` then
#     trains until `max_steps` or forever. Range checks come from the types you give
#     (`PositiveInt` and `PositiveFloat` here) or from your own code (the program's `--epochs`
#     check in `before_instantiate_classes`). The tests check each case.
#
# !!! warning "A linked argument can only be given through its source"
#     With `seed_everything` linked to `data.seed`, `--data.seed 5` is refused ("Linked
#     "data.seed" must be given via "seed_everything""), and the saved config holds the source
#     (`epochs`, `device`, `seed_everything`) but not the targets (`trainer.max_epochs`,
#     `trainer.accelerator`, `data.seed`).
#
# !!! warning "`config.yaml` already exists ([#17115](https://github.com/Lightning-AI/pytorch-lightning/issues/17115))"
#     `SaveConfigCallback` refuses to overwrite the `config.yaml` of an earlier run in the same
#     log folder: the second `fit` stops with `RuntimeError: SaveConfigCallback expected
#     .../config.yaml to NOT exist. Aborting to avoid overwriting results of a previous run.`
#     That protects results written next to it; with `logger=False` the log folder is
#     `default_root_dir`, the current folder unless given, so every run there collides. The
#     program passes `save_config_kwargs={"overwrite": True}`; a logger's versioned folders
#     (`lightning_logs/version_N/`) avoid the collision instead. The option was
#     `save_config_overwrite=True` until Lightning 1.8.0 deprecated it for `save_config_kwargs`
#     and 2.0.0 removed it; the error message went on naming the removed option (that issue).
#     In 2.6 it names `save_config_kwargs`. The tests check the error.
#
# !!! warning "`seed_everything: true` in a printed config"
#     LightningCLI's default seed is `True`: `--print_config` then prints
#     `seed_everything: true`, while the `config.yaml` saved at `fit` holds the seed actually
#     used (the number, saved since Lightning 2.0.6, pull request #18056). Rerun from the saved
#     file, not from a config printed before the run. What `true` means changed in Lightning
#     2.2.0: the value of `PL_GLOBAL_SEED` if set, else 0 with a warning ("No seed found, seed
#     set to 0"); before, a random seed. The program passes `seed_everything_default=0`, so the
#     printed config shows the number. The tests check the printed and the saved value.
#
# !!! note "Callbacks given in `trainer_defaults` are not in the config ([#7540](https://github.com/Lightning-AI/pytorch-lightning/issues/7540))"
#     A callback passed in `trainer_defaults` is always added and is not configurable: the saved
#     config says `callbacks: null` while the run had one (the tests check it). A callback the
#     run's result depends on belongs in the config file (`trainer.callbacks` with `class_path`
#     and `init_args`).
#
# ??? info "The pip line, and `jsonargparse[signatures]`"
#     The download line above names `jsonargparse[signatures]`: besides `jsonargparse`, the
#     package the program imports, LightningCLI needs the packages of its `signatures` extra
#     (`docstring-parser`, `typeshed-client`, `typing-extensions`) to read the classes'
#     signatures. Quote it, `pip install "jsonargparse[signatures]"`, for shells that expand
#     brackets. Without jsonargparse the program stops at its import with one line naming that
#     command.

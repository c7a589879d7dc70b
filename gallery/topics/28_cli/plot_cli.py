"""
# The command line

A training script is run many times with different settings, and a result is only worth
something if the run that made it can be made again. So the script needs options on the command
line, a config file that holds a run's settings, a way to override one of them for one run, and
a way to write down the settings a run actually used. Each program below is run from a config
file with the learning rate overridden on the command line, prints the resolved config, and is
run again from that config: the weights must come out bit for bit the same.

- **Plain PyTorch:** `argparse` options; `--config file.json` loads the file into the parser's
  defaults, so that anything given on the command line overrides it; `--print-config` prints the
  resolved options as JSON. Range checks are written by hand.
- **Lightning:** `LightningCLI(Classifier, DataModule)` builds the command line from the
  `__init__` signatures of the `LightningModule`, the `LightningDataModule` and the `Trainer`:
  `--model.lr`, `--data.batch_size`, every `Trainer` argument as `--trainer.<name>`, YAML
  config files with `--config`, `--print_config`, and the subcommands `fit`, `validate`, `test`
  and `predict`. At the start of every `fit` it saves the resolved config as `config.yaml` in the
  run's log folder.
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

**What a LightningCLI user types** is LightningCLI's own syntax, shown in the table below:
`python lightning_cli.py fit --config lightning_config.yaml --model.lr 0.01`. So that the
Lightning program also answers the site's common options like every other program here
(`--epochs 3`, `--seed 0`, `--device cpu`), its `main()` turns them into
`fit --trainer.max_epochs 3`, `--seed_everything 0 --data.seed 0` and
`--trainer.accelerator cpu`, and checks them, before LightningCLI runs; that front is not
counted as lines of code. In this topic the command line is the task, so the parsers of all
three programs are counted; their error handling (`main()`) and the page's check (`run()`) are
not.
"""

# %%
# ## The three programs
#
# Highlighted lines are those a program does not share with its counterpart. Each program
# writes its config files into `--out-dir`; LightningCLI writes `config.yaml` into the
# `Trainer`'s log folder, here the current folder.
#
# <!-- implementations -->
#
# !!! note "Defaults the Lightning program changes"
#     - `trainer_defaults={"logger": False, "enable_checkpointing": False, ...}`: the default
#       logger and checkpoint callback would write a `lightning_logs/` folder and checkpoints
#       nobody asked for. `enable_progress_bar` and `enable_model_summary` follow `verbose`. A
#       config file or a command-line option still overrides each of them: `trainer_defaults`
#       are defaults.
#     - `seed_everything_default=0`: LightningCLI's default is `True`, which seeds with the
#       value of the `PL_GLOBAL_SEED` environment variable or, when it is unset, with 0 and a
#       warning ("No seed found, seed set to 0"; since Lightning 2.2.0, a random seed before).
#       The other programs default to `--seed 0`; with `0` the printed config shows the number.
#     - `save_config_kwargs={"overwrite": True}`: by default the second run in the same folder
#       stops before training, because `config.yaml` is already there (see the pitfalls).
#
#     The program's classes annotate `hidden`, `lr` and `batch_size` with jsonargparse's
#     `PositiveInt` and `PositiveFloat`, so that LightningCLI refuses `--model.lr -1` as the
#     plain program's hand-written check does.
#
# ## Executed in this build

from evidence import load
from evidence.views.topics import cli as views

result = load("cli").headline
result.stamp()

# %%
# ### What each program printed
#
# Each program's log holds both runs, each after the command it stands for (`$ python ...`).
# Lightning's rerun shows its progress bar and model summary but not the per-epoch lines: those
# come from the callback that collects the page's history, which only the first run has.

result.logs()

# %%
# ### What each user types
#
# The config file holds the run's settings with a learning rate of 0.001; the command line
# overrides it. The last column compares the weights of the rerun from the resolved config
# with the first run's.

views.commands_table(result)

# %%
# The resolved configs agree on every value that decides the run:

views.resolved_table(result)

# %%
# ### The config files

views.configs(result, "pytorch")

# %%

views.configs(result, "lightning")

# %%

views.size_sentence(result)

# %%
# ### Did they train the same network?
#
# The first run's weights and validation losses, the rerun's difference from it and the
# resolved values, against plain PyTorch's.

result.parity()

# %%
# ### What each program did, call by call
#
# The headline run once more, untimed, with every training call recorded through PyTorch's own
# hooks: both runs of each program appear. Rows where the programs differ are marked;
# [What the Trainer does for you](../../explained/01_what_the_trainer_does/plot_what_the_trainer_does.md)
# reads the minimal loop's recording line by line.

result.trace()

# %%
# ### Time and memory
#
# Each run includes parsing the command line three times (two runs and the printed config) and
# training twice. LightningCLI builds its parser from the signatures of the `Trainer`, the
# `LightningModule` and the `LightningDataModule` in every run.

result.timings()

# %%
# ### Lines of code

result.loc()

# %%
# ## Pitfalls
#
# !!! warning "Order matters on a LightningCLI command line"
#     jsonargparse applies the arguments from left to right: `--config file.yaml --model.lr 0.01`
#     runs with 0.01, but `--model.lr 0.01 --config file.yaml` runs with the file's value,
#     silently. The plain program loads the file into the parser's defaults, so an option on the
#     command line wins wherever it stands. The tests check both.
#
# !!! warning "Types are checked, ranges are not"
#     LightningCLI checks each value against the type hint: `--model.hidden abc` is refused.
#     `--trainer.max_epochs -1` is accepted, because -1 is a valid value: the `Trainer` then
#     trains until `max_steps` or forever. Range checks come from the types you give
#     (`PositiveInt` here) or from your own code. The tests check both.
#
# !!! warning "`config.yaml` already exists ([#17115](https://github.com/Lightning-AI/pytorch-lightning/issues/17115))"
#     `SaveConfigCallback` refuses to overwrite the `config.yaml` of an earlier run in the same
#     log folder: the second `fit` stops with `RuntimeError: SaveConfigCallback expected
#     .../config.yaml to NOT exist. Aborting to avoid overwriting results of a previous run.`
#     That protects results written next to it; with `logger=False` the log folder is the
#     current folder, so every run there collides. The program passes
#     `save_config_kwargs={"overwrite": True}`; a logger's versioned folders
#     (`lightning_logs/version_N/`) avoid the collision instead. The option was
#     `save_config_overwrite=True` until Lightning 1.8.0 deprecated it for `save_config_kwargs`
#     and 2.0.0 removed it; the error message went on naming the removed option (that issue).
#     In 2.6 it names `save_config_kwargs`. The tests check the error.
#
# !!! warning "`seed_everything: true` in a printed config"
#     With LightningCLI's default seed (`True`), `--print_config` prints `seed_everything: true`,
#     while the `config.yaml` saved at `fit` holds the seed actually used (the number, saved
#     since Lightning 2.0.6, pull request #18056). Rerun from the saved file, not from a config
#     printed before the run. What `true` means changed in Lightning 2.2.0: the value of
#     `PL_GLOBAL_SEED` if set, else 0; before, a random seed. The tests check the printed and
#     the saved value.
#
# !!! note "Callbacks given in `trainer_defaults` are not in the config ([#7540](https://github.com/Lightning-AI/pytorch-lightning/issues/7540))"
#     A callback passed in `trainer_defaults` is always added and is not configurable: the saved
#     config says `callbacks: null` while the run had one (here, the callback that collects the
#     page's history; the tests check it). A callback the run's result depends on belongs in the
#     config file (`trainer.callbacks` with `class_path` and `init_args`).
#
# ??? info "The pip line, and `jsonargparse[signatures]`"
#     The download line above names `jsonargparse`, the package the program imports. LightningCLI
#     also needs the packages of its `signatures` extra (`docstring-parser` and `typeshed-client`) to
#     read the classes' signatures: install it as `pip install "jsonargparse[signatures]"`
#     (quoted, for shells that expand brackets). Without them, `LightningCLI` raises
#     `ModuleNotFoundError` when it builds its parser, and the program turns that into one line
#     naming the install command.

"""
# Known issues, replayed

The same questions come back to Lightning's issue tracker for years: the logged epoch loss is not
my average, my checkpoint does not load into a plain `nn.Module`, resuming retrains an epoch,
`training_step` runs in eval mode. Many threads end as "working as intended", "fixed in a later
release" or stay open, and a reader cannot tell which applies to the release they run. This page
answers with executions.

Each row is one reported behaviour, **replayed**: a small standalone program, written for this
site from the thread's description (synthetic data, a few seconds on a CPU), that does what the
reporter did and returns what it observed, and a check on those values that says what
"reproduces" means (for example "the logged epoch `val_loss` differs from the sample-weighted mean
by more than 1e-6"). Where the thread or the documentation gives a workaround, a second program
applies it, with its own check. Every replay ran on one patch release of each Lightning 2.x minor
version (the releases of the [version matrix](../02_version_matrix/plot_version_matrix.md)),
beside the torch this site pins, and each cell is that run's verdict:

- **reproduces**: the check holds, the behaviour is there (**behaves as documented** where the
  thread ended in Lightning's documented behaviour rather than a defect);
- **does not reproduce**: the check does not hold; across a row, "no longer reproduces since
  x.y.z" marks the release that changed it (and "reproduces since x.y.z" a regression);
- *not applicable*: the program raised on that release, usually because the API it calls does not
  exist there yet (its error's last line is in the run's detail);
- **failed**: the program crashed or ran out of time, or its values did not hold what its check
  reads.

The programs are in the repository under `snippets/replays/<name>/` (`replay.py`,
`workaround.py`, and `replay.toml` with the thread, its state upstream when it was read, and the
checks). `tools/version_matrix.py` runs them, one release at a time, and writes one file per
release under `evidence/recorded/replays/`; this page renders the files present and runs nothing.
The older releases never supported the torch beside them here: a program that fails on an old
release may fail because of torch rather than Lightning, and the detail says where it raised.
"""

# %%
# ## What the newest release changed
#
# The verdicts that the newest release with results gives differently from the release before it.

from evidence.views import replays

replays.flips()

# %%
# ## Every replay on every release
#
# One row per reported behaviour: in our words, with its thread(s) and their state upstream as of
# the date they were read, the topic page that explains the mechanism, and the workaround with its
# verdict on each release. A cell links to that release's run.

replays.replays_table()

# %%
# ## Every run in detail
#
# For each replay: what was reported, why it happens (checked against Lightning's source), and
# per release a fold with each program's outcome, the check with the values it compared, and the
# last lines the program printed (a warning is shown as its class, then its message).

replays.details()

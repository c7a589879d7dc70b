"""
# Which Lightning versions each topic holds on

Readers are rarely on the newest Lightning, and behaviour moves between minor versions: old
tutorials break on 2.0's removals, and a default can change in a patch release. Lightning's own
compatibility matrix is written by hand. This one is executed: every topic's headline run, its
Lightning and Fabric programs as they are on this site, ran on one patch release of each
Lightning 2.x minor version (the newest one when the matrix was set up: 2.5.5, though 2.5.6 has
been released since), beside the same torch, and was compared with the plain PyTorch program
(which does not depend on Lightning) exactly as on the topic pages.

Every shard ran beside the torch this site pins (the table's torch row says which), a torch
that the older Lightning releases never supported: a cell that fails on an old release may fail
because of torch rather than Lightning's own API. The 2.0.x failures, for example, come from
torch 2.6's change of `torch.load`'s default to `weights_only=True`, which Lightning 2.0 predates;
the detail below shows each failure's error.

Each column is one *shard*: an environment holding that Lightning version, in which
`tools/version_matrix.py` ran every topic once (one timed round) and wrote a results file with the
versions, the machine and the date. The build renders the files present and never runs a shard:
a version without a file says so.
"""

# %%
# ## The matrix
#
# A cell is the topic's verdict on that version (*identical*, *close*, *differs*, or *failed*
# when a program raised), and how many of the topic's declared checks on its headline run came
# out otherwise there; it links to its detail below.

from evidence.views import matrix

matrix.matrix_table()

# %%
# ## What changes between versions
#
# Every cell that differs from the same topic's cell on the previous version, and since which
# version the new one holds.

matrix.changes()

# %%
# ## Every cell in detail
#
# For each version: where a failing program raised and its error's last line; otherwise each
# comparison with plain PyTorch, the parity ledger (the first optimizer step where the runs part,
# if they do), each declared check that reads the headline run alone (with what it was declared
# to be, where it came out otherwise), the warnings the programs printed (deprecations show here
# first) and the time per optimizer step of each program.

matrix.details()

# %%
# ## Reading the matrix
#
# - A *failed* cell on an old version is usually the program using an API that version does not
#   have yet (the error names it): the programs are written for the pinned Lightning, as a reader
#   writing today would write them. Where a cell fails, the detail says which program and line.
# - The plain PyTorch program is the same on every version, so a verdict that changes between
#   versions is Lightning's (or Fabric's) behaviour changing, not the reference.
# - A topic's declared checks state what the pinned version does (the build fails when one does
#   not hold there). One that comes out otherwise on another version marks a behaviour that
#   version does not share: the resuming topic's `lightning_trains_an_epoch_twice`, for example,
#   holds only where `last.ckpt` lags behind the last epoch trained.
# - Shards run on a CPU with one torch thread; the times per step compare versions on one machine,
#   not against other machines.

"""
# Which Lightning versions each topic holds on

Readers are rarely on the newest Lightning, and behaviour moves between minor versions: old
tutorials break on 2.0's removals, and a default can change in a patch release. Lightning's own
compatibility matrix is written by hand. This one is executed: every topic's headline run, its
Lightning and Fabric programs as they are on this site, ran on the latest patch release of each
Lightning 2.x minor version, beside the same torch, and was compared with the plain PyTorch
program (which does not depend on Lightning) exactly as on the topic pages.

Each column is one *shard*: an environment holding that Lightning version, in which
`tools/version_matrix.py` ran every topic once (one timed round) and wrote a results file with the
versions, the machine and the date. The build renders the files present and never runs a shard:
a version without a file says so.
"""

# %%
# ## The matrix
#
# A cell is the topic's verdict on that version (*identical*, *close*, *differs*, or *failed*
# when a program raised); it links to its detail below.

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
# if they do), the warnings the programs printed (deprecations show here first) and the time per
# optimizer step of each program.

matrix.details()

# %%
# ## Reading the matrix
#
# - A *failed* cell on an old version is usually the program using an API that version does not
#   have yet (the error names it): the programs are written for the pinned Lightning, as a reader
#   writing today would write them. Where a cell fails, the detail says which program and line.
# - The plain PyTorch program is the same on every version, so a verdict that changes between
#   versions is Lightning's (or Fabric's) behaviour changing, not the reference.
# - Shards run on a CPU with one torch thread; the times per step compare versions on one machine,
#   not against other machines.

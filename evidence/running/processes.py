"""Ending a worker together with every process it started.

A program may start processes that leave the worker's process group: torchrun starts each rank in a
session of its own. Killing the worker alone (or its group) leaves those running, holding the cores
and, if hung, never ending. ``kill_tree`` collects the descendants first (once the worker is dead they
are re-parented and can no longer be told from other processes) and kills them all.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """The processes below ``pid``, children first (Linux: read from /proc; elsewhere none)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended while we read
        parents.setdefault(parent, []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        children = parents.get(queue.pop(0), [])
        found += children
        queue += children
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process below it."""
    for each in [pid, *descendants(pid)]:
        try:
            os.kill(each, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

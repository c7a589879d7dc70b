"""Views of what programs wrote, as the harness's readers found it (`evidence.running.gather`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence.programs import LABELS
from evidence.views import Code, Html, table

if TYPE_CHECKING:
    from evidence.results import RunResult


def _entry(found: dict | None):
    if found is None:
        return None
    if "value" in found:
        return Code(f"{found['value']:.5g}" if isinstance(found["value"], float) else found["value"])
    return f"{found['type']}, {found['tensors']} tensors, {found['tensor_bytes']:,} B"


def checkpoint_keys(result: RunResult, key: str, file: str) -> Html:
    """Every top-level key of one checkpoint file, side by side for every implementation.

    Args:
        result: a run whose ``gather`` read the checkpoint folders with ``checkpoint_files``.
        key: the result key the reader's value is under (``"checkpoints"``).
        file: the file's name in each implementation's folder.

    Returns:
        A table: one row per key (the first implementation's keys first), with a number's or a
        string's value, or a container's type, tensors and bytes; a last row with the file sizes.
    """
    files = {kind: result.value(kind, key)[file] for kind in result.kinds()}
    names = dict.fromkeys(name for found in files.values() for name in found["keys"])
    rows = [[Code(name)] + [_entry(files[kind]["keys"].get(name)) for kind in files] for name in names]
    rows.append(["file size"] + [f"{files[kind]['file_bytes']:,} B" for kind in files])
    return table(["key", *(LABELS[kind] for kind in files)], rows)

"""Third-party warnings and messages we cannot fix, silenced by name.

This is the one allow-list: the harness applies it to published output, and the test suite
applies it on top of ``filterwarnings = error`` (see ``tests/conftest.py``). Every entry says
why it is safe to silence. Anything not listed here shows on the page (and fails the tests).
"""

from __future__ import annotations

import logging
import re
import warnings

KNOWN_WARNINGS: list[tuple[str, type[Warning], str]] = [
    # (message regex, category, why)
    (r"(?s)\s*((``[\w.]+``|\w+ parameter) was deprecated in v4\.49\.0|By default only one JsonargparseDeprecationWarning)",
     DeprecationWarning,
     "jsonargparse 4.49 deprecated APIs that LightningCLI 2.6.6 calls (add_instantiator, "
     "instantiate_classes, skip_none); Lightning's code, not ours, and nothing a LightningCLI user can change"),
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated",
     FutureWarning,
     "raised inside pytorch_lightning.utilities._pytree by torch>=2.10; Lightning's own code, "
     "not ours, and harmless until torch removes LeafSpec"),
    (r"`torch\.jit\.script_method` is deprecated",
     DeprecationWarning,
     "raised by torch itself when torch.compile (Inductor) first imports torch.utils.mkldnn, whose "
     "classes still use torch.jit.script_method; torch's code, not ours, and not something a "
     "torch.compile user can avoid"),
    (r"LightningCLI's args parameter is intended to run from within Python",
     UserWarning,
     "LightningCLI(args=...) warns whenever sys.argv holds arguments too; the worker and the tests call a "
     "program's run() or main(argv) from a process whose sys.argv is their own (the worker's job, pytest's "
     "options), which LightningCLI ignores when args is given; a reader's shell never triggers it"),
]

ADVERT_PREFIXES = (
    # Lightning prints this advert on every Trainer construction; it carries no information
    # about the run.
    "💡 Tip:",
)


_RANK_PREFIX = re.compile(r"^\[rank \d+\]\s*")
"""What the DDP launchers put before each line a rank prints."""


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(ADVERT_PREFIXES)


def apply() -> None:
    """Install the warning filters and the advert filter in this process."""
    for message, category, _why in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in ("pytorch_lightning", "lightning_fabric", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropAdverts) for f in logger.filters):
            logger.addFilter(_DropAdverts())
        for handler in logger.handlers:
            if not any(isinstance(f, _DropAdverts) for f in handler.filters):
                handler.addFilter(_DropAdverts())


def strip_adverts(text: str) -> str:
    """Remove advert lines from captured output, including output of a program's own
    subprocesses (distributed ranks), which the logging filter in this process cannot reach."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not _RANK_PREFIX.sub("", line.lstrip()).startswith(ADVERT_PREFIXES))


def pytest_filters() -> list[str]:
    """The same allow-list in pytest's ``filterwarnings`` syntax."""
    return [f"ignore:{message}:{category.__name__}" for message, category, _why in KNOWN_WARNINGS]

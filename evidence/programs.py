"""A topic's programs: where they are and what they are called.

A topic is a folder ``snippets/<topic>/`` holding up to three standalone programs, one per
implementation kind, named ``<kind>_<topic>.py``. The kind is the one name of an
implementation everywhere: the file prefix, the key in results and ``summary.json``, and the
anchor of its content tab. What their source holds (lines of code, the lines that differ, the
packages they need) is read by `evidence.source`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evidence.source import count_loc, requires

PROJECT_DIR = Path(__file__).resolve().parents[1]
"""The repository root (the folder holding ``mkdocs.yml``)."""

SNIPPETS_DIR = PROJECT_DIR / "snippets"
"""The folder holding one sub-folder per topic, and nothing else."""

KINDS = ("pytorch", "lightning", "fabric")
"""Implementation kinds, in the order pages and tables show them."""

LABELS = {"pytorch": "PyTorch", "lightning": "Lightning", "fabric": "Fabric"}
"""What a reader reads for each kind (tab titles, table rows)."""


@dataclass(frozen=True)
class Program:
    """One implementation of a topic: a standalone program in ``snippets/<topic>/``."""

    topic: str
    kind: str
    path: Path

    @property
    def label(self) -> str:
        """Human name of the implementation (``PyTorch``, ``Lightning``, ``Fabric``)."""
        return LABELS[self.kind]

    @property
    def module(self) -> str:
        """Dotted module name, importable once the project is installed."""
        return f"snippets.{self.topic}.{self.path.stem}"

    @property
    def source(self) -> str:
        return self.path.read_text()

    @property
    def loc(self) -> int:
        """Lines of code, counted by `evidence.source.count_loc`."""
        return count_loc(self.source)

    @property
    def requires(self) -> list[str]:
        """The packages a downloaded copy needs, by `evidence.source.requires`."""
        return requires(self.source)

    @property
    def pip_install(self) -> str:
        """The command that installs what the program needs: ``pip install torch ...``."""
        return "pip install " + " ".join(f'"{r}"' if "[" in r else r for r in self.requires)


def program_path(topic: str, kind: str, root: Path = SNIPPETS_DIR) -> Path:
    """Where the ``kind`` implementation of ``topic`` lives (whether or not it exists)."""
    return root / topic / f"{kind}_{topic}.py"


def programs(topic: str, root: Path = SNIPPETS_DIR) -> list[Program]:
    """The implementations of ``topic`` that exist, in `KINDS` order.

    Raises:
        LookupError: the topic has no program at all.
    """
    found = [Program(topic, kind, program_path(topic, kind, root))
             for kind in KINDS if program_path(topic, kind, root).is_file()]
    if not found:
        expected = ", ".join(program_path(topic, k, root).name for k in KINDS)
        raise LookupError(f"topic {topic!r} has no program in {root / topic} (expected {expected})")
    return found


def topics(root: Path = SNIPPETS_DIR) -> list[str]:
    """Every topic folder under ``root``, sorted by name."""
    return sorted(d.name for d in root.iterdir()
                  if d.is_dir() and any(program_path(d.name, k, root).is_file() for k in KINDS))

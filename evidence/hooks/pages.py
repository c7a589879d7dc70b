"""The gallery's page scripts: where their output goes, and whether it is current.

A page is current when mkdocs-gallery's checksum exists and the digest recorded when it last
ran still matches: the digest covers the script, the machinery that renders it (everything in
`evidence` but the hooks), the environment and the result keys of every topic the page
loaded (recorded by `evidence.load` while it ran). So a page re-runs when a run it shows
changed, and not otherwise; nothing is read from the page's code to decide it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from evidence import declared
from evidence.programs import PROJECT_DIR
from evidence.running import runner
from evidence.running.environment import fingerprint

_NUMBERED = re.compile(r"^\d+_")
HOOKS_DIR = Path(__file__).resolve().parent


def folder_topic(folder_name: str) -> str:
    """``01_minimal_loop`` -> ``minimal_loop``."""
    return _NUMBERED.sub("", folder_name)


def rendering_inputs() -> list[Path]:
    """The machinery a page's output depends on: `evidence` without the MkDocs hooks, and
    the results recorded on other machines (a committed GPU file re-renders the pages)."""
    root = PROJECT_DIR / "evidence"
    code = [p for p in root.rglob("*.py") if HOOKS_DIR not in p.parents and "__pycache__" not in p.parts]
    return sorted(code + list((root / "recorded").rglob("*.json")))


def results_keys(topics: list[str]) -> dict[str, list[str]]:
    """The current result key of every declared run of each topic."""
    return {t: [f"{run.name}={runner.run_key(run)}" for run in declared.runs(t)] for t in topics}


@dataclass
class GalleryScript:
    """One ``gallery/<section>/NN_<name>/plot_<name>.py`` and where its output goes."""

    path: Path
    gallery_root: Path
    output_root: Path

    @property
    def relative(self) -> Path:
        return self.path.relative_to(self.gallery_root)

    @property
    def output_md(self) -> Path:
        return self.output_root / self.relative.with_suffix(".md")

    @property
    def md5_file(self) -> Path:
        """The checksum mkdocs-gallery writes after a successful run."""
        return self.output_root / self.relative.parent / (self.path.name + ".md5")

    @property
    def inputs_file(self) -> Path:
        """Our record: the topics the page loaded and the digest of its inputs when it last ran."""
        return self.output_root / self.relative.parent / (self.path.name + ".inputs")

    @property
    def title(self) -> str:
        doc = ast.get_docstring(ast.parse(self.path.read_text())) or ""
        for line in doc.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        return self.path.stem

    @property
    def topic(self) -> str:
        """The topic named by the page's folder (``01_minimal_loop`` -> ``minimal_loop``)."""
        return folder_topic(self.relative.parent.name)

    def digest(self, topics: list[str]) -> str:
        """Hash of the script, the rendering machinery, the environment and the loaded results."""
        h = hashlib.sha256(self.path.read_bytes())
        for path in rendering_inputs():
            h.update(path.relative_to(PROJECT_DIR).as_posix().encode())
            h.update(path.read_bytes())
        h.update(json.dumps(fingerprint(), sort_keys=True).encode())
        h.update(json.dumps(results_keys(sorted(topics)), sort_keys=True).encode())
        return h.hexdigest()

    def recorded(self) -> dict | None:
        """What `record` wrote when the page last ran successfully."""
        try:
            return json.loads(self.inputs_file.read_text())
        except (OSError, ValueError):
            return None

    def record(self, topics: list[str]) -> None:
        """Remember the topics the page loaded and the digest of its inputs now."""
        self.inputs_file.write_text(json.dumps({"topics": topics, "digest": self.digest(topics)}))

    def is_current(self) -> bool:
        """Executed successfully with the inputs as they are now."""
        record = self.recorded()
        if not (self.md5_file.exists() and record):
            return False
        try:
            return record["digest"] == self.digest(record["topics"])
        except declared.DeclarationError:  # a topic it loaded is gone
            return False


def scripts(gallery_root: Path, output_root: Path, pattern: str = r"plot_") -> list[GalleryScript]:
    """Every executable gallery script, in gallery order."""
    return [GalleryScript(p, gallery_root, output_root)
            for p in sorted(gallery_root.rglob("*.py")) if re.match(pattern, p.name)]

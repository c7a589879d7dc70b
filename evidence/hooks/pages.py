"""The gallery's page scripts: where their output goes, and whether it is current.

A page is current when mkdocs-gallery's checksum exists and the digest recorded when it last
ran still matches: the digest covers the script, the machinery that renders it (everything in
`evidence` but the hooks), the environment and the result keys of every topic the page
loads (read from its source: every ``load("<topic>")``). So a page re-runs when a run it shows
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
from evidence.programs import PROJECT_DIR, SNIPPETS_DIR
from evidence.running import runner
from evidence.running.environment import fingerprint

_NUMBERED = re.compile(r"^\d+_")
HOOKS_DIR = Path(__file__).resolve().parent


def folder_topic(folder_name: str) -> str:
    """``01_minimal_loop`` -> ``minimal_loop``."""
    return _NUMBERED.sub("", folder_name)


def rendering_inputs() -> list[Path]:
    """The machinery a page's output depends on: `evidence` without the MkDocs hooks, the
    results recorded on other machines (a committed GPU file re-renders the pages), and the
    replays (``snippets/replays/``), which topic pages link with their verdicts."""
    root = PROJECT_DIR / "evidence"
    code = [p for p in root.rglob("*.py") if HOOKS_DIR not in p.parents and "__pycache__" not in p.parts]
    replays = [p for p in (SNIPPETS_DIR / "replays").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(code + list((root / "recorded").rglob("*.json")) + replays)


def results_keys(topics: list[str]) -> dict[str, list[str]]:
    """The current result key of every declared run of each topic with the checksum of the result
    stored under it (a run executed again under the same key re-renders the page), and a hash of
    the topic's declaration (a changed check or reason re-renders it without re-running anything)."""
    return {t: [f"{run.name}={runner.run_key(run)}:{runner.entry_digest(run)}" for run in declared.runs(t)]
            + [hashlib.sha256((declared.folder(t) / declared.RUNS_FILE).read_bytes()).hexdigest()[:16]]
            for t in topics}


def loaded_topics(source: str) -> list[str]:
    """The topics a page script loads: every ``load("<topic>")`` call with a literal name, and the
    machinery topic whose views it imports (``from evidence.benchmarks.views import bench``)."""
    found = []
    topics = declared.folders()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("evidence."):
            part = node.module.split(".")[1]
            if part in topics and not topics[part].is_relative_to(SNIPPETS_DIR) and part not in found:
                found.append(part)
        if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "load"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and node.args[0].value in declared.folders() and node.args[0].value not in found):
            found.append(node.args[0].value)
    return found


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

    def loaded_topics(self) -> list[str]:
        """The topics the page loads, read from its source (`loaded_topics`)."""
        return loaded_topics(self.path.read_text())

    def recorded(self) -> dict | None:
        """What `record` wrote when the page last ran successfully."""
        try:
            return json.loads(self.inputs_file.read_text())
        except (OSError, ValueError):
            return None

    def record(self) -> None:
        """Remember the digest of the page's inputs now (after mkdocs-gallery ran it successfully)."""
        self.inputs_file.write_text(json.dumps({"digest": self.digest(self.loaded_topics())}))

    def needs_record(self) -> bool:
        """mkdocs-gallery ran the page (its checksum is newer than our record) and it succeeded."""
        if not self.md5_file.exists():
            return False
        return not self.inputs_file.exists() or self.inputs_file.stat().st_mtime_ns < self.md5_file.stat().st_mtime_ns

    def is_current(self) -> bool:
        """Executed successfully with the inputs as they are now."""
        record = self.recorded()
        if not (self.md5_file.exists() and record):
            return False
        try:
            return record.get("digest") == self.digest(self.loaded_topics())
        except declared.DeclarationError:  # a topic it loads is gone
            return False


def scripts(gallery_root: Path, output_root: Path, pattern: str = r"plot_") -> list[GalleryScript]:
    """Every executable gallery script, in gallery order."""
    return [GalleryScript(p, gallery_root, output_root)
            for p in sorted(gallery_root.rglob("*.py")) if re.match(pattern, p.name)]

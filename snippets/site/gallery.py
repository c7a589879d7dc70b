"""What the build needs to know about gallery scripts: their topics, inputs, specs and pages."""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from snippets.harness.programs import SNIPPETS_DIR
from snippets.harness.runner import inputs_digest, make_spec

_NUMBERED = re.compile(r"^\d+_")


def folder_topic(folder_name: str) -> str:
    """``01_minimal_loop`` -> ``minimal_loop``."""
    return _NUMBERED.sub("", folder_name)


def _literal_run_topic_calls(tree: ast.AST) -> list[dict]:
    specs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "run_topic":
            try:
                args = [ast.literal_eval(a) for a in node.args]
                kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            except ValueError:
                continue  # not literal: the gallery will run it when it gets there
            accepted = inspect.signature(make_spec).parameters
            specs.append(make_spec(*args, **{k: v for k, v in kwargs.items() if k in accepted}))
    return specs


@dataclass
class GalleryScript:
    """One ``gallery/NN_<topic>/plot_<name>.py`` and where its output goes."""

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
        """Our stamp: the digest of every input when the page was last executed."""
        return self.output_root / self.relative.parent / (self.path.name + ".inputs")

    @property
    def title(self) -> str:
        doc = ast.get_docstring(ast.parse(self.path.read_text())) or ""
        for line in doc.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        return self.path.stem

    @property
    def specs(self) -> list[dict]:
        """The ``run_topic(...)`` calls of the script whose arguments are literals."""
        return _literal_run_topic_calls(ast.parse(self.path.read_text()))

    @property
    def topics(self) -> list[str]:
        """Topics whose programs this script runs: those it names, plus its folder's."""
        found = {s["topic"] for s in self.specs}
        own = folder_topic(self.relative.parent.name)
        if (SNIPPETS_DIR / own).is_dir():
            found.add(own)
        return sorted(t for t in found if (SNIPPETS_DIR / t).is_dir())

    @property
    def topic(self) -> str:
        return folder_topic(self.relative.parent.name)

    def digest(self) -> str:
        """Hash of the script, the topics it runs, the harness and the environment."""
        return inputs_digest(self.topics, extra=[self.path])

    def is_current(self) -> bool:
        """Executed successfully with the inputs as they are now."""
        return (self.md5_file.exists() and self.inputs_file.exists()
                and self.inputs_file.read_text() == self.digest())


def scripts(gallery_root: Path, output_root: Path, pattern: str = r"plot_") -> list[GalleryScript]:
    """Every executable gallery script, in gallery order."""
    return [GalleryScript(p, gallery_root, output_root)
            for p in sorted(gallery_root.rglob("*.py")) if re.match(pattern, p.name)]

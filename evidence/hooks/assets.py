"""MkDocs hooks for static assets and the theme's markup: light pages, accessible ones.

* ``docs/assets/**/*.gz`` is published unpacked: Mermaid's 3.5 MB script is kept gzipped in
  the repository. Serving it from the site itself, instead of Material's default CDN, keeps the
  pages working offline and keeps readers' visits away from third parties;
* a page loads Mermaid only when it holds a diagram: the script tag is added to that page,
  before Material's bundle (which then finds ``mermaid`` defined and renders the diagrams).
  Every other page stays light;
* the search dialog gets an accessible name: Material's ``partials/search.html`` (9.x) marks it
  ``role="dialog"`` without one, which screen readers announce as an unnamed dialog.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

MERMAID = "assets/javascripts/mermaid.min.js"
DIAGRAM = 'class="mermaid"'


def on_files(files: Files, config):
    for file in [f for f in files if f.src_uri.startswith("assets/") and f.src_uri.endswith(".gz")]:
        files.remove(file)
        files.append(File.generated(config, file.src_uri[:-3],
                                    content=gzip.decompress(Path(file.abs_src_path).read_bytes())))
    return files


SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'


def _name_search_dialog(output: str) -> str:
    return output.replace(SEARCH_DIALOG, SEARCH_DIALOG[:-1] + ' aria-label="Search">')


def on_post_page(output: str, page, config):
    """Name the search dialog; add Mermaid to a page that draws a diagram, ahead of Material's
    bundle."""
    output = _name_search_dialog(output)
    if DIAGRAM not in output:
        return output
    tag = f'<script src="{get_relative_url(MERMAID, page.url)}"></script>'
    bundle = output.find("assets/javascripts/bundle.")
    at = output.rfind("<script", 0, bundle) if bundle > 0 else -1
    return output[:at] + tag + output[at:] if at > 0 else output.replace("</body>", tag + "</body>")


def on_post_template(output: str, template_name: str, config):
    """The same name for the search dialog of the static templates (``404.html``)."""
    return _name_search_dialog(output)

"""MkDocs hook for static assets kept compressed in git.

``docs/assets/**/*.gz`` is published unpacked: Mermaid's 3.5 MB script is kept gzipped in the
repository. Serving Mermaid from the site itself, instead of Material's default CDN, keeps the
pages working offline and keeps readers' visits away from third parties.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from mkdocs.structure.files import File, Files


def on_files(files: Files, config):
    for file in [f for f in files if f.src_uri.startswith("assets/") and f.src_uri.endswith(".gz")]:
        files.remove(file)
        files.append(File.generated(config, file.src_uri[:-3],
                                    content=gzip.decompress(Path(file.abs_src_path).read_bytes())))
    return files

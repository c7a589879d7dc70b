"""The published folder says nothing about the machine that built it, and holds no Python warning.

Every file of the built site is searched (HTML, JSON, .py, .ipynb, .txt, images' metadata, the
gzipped sitemap...): tracebacks, logs, checkpoint paths and result data must not carry the
project's absolute path, the home directory, temporary or site-packages paths, the host name or
the user name. Where a value is too generic to search for (a user ``root``, a host ``vm``), the
check for it is skipped and the path form (``/root/``) is searched instead.
"""

from __future__ import annotations

import getpass
import gzip
import os
import re
import socket
import sys
import sysconfig
import tempfile
from html import unescape
from pathlib import Path

import pytest

from tests import sitecheck as sc

site = pytest.mark.site

# Names that are words, code or common machine names: searching for them finds the site's own text.
GENERIC_NAMES = {"root", "user", "admin", "runner", "ubuntu", "debian", "docker", "build", "builder",
                 "vm", "host", "localhost", "server", "test", "ci", "app", "home", "main", "work"}


def published_text(root: Path) -> dict[str, str]:
    """Every published file as text (bytes decoded leniently; .gz files decompressed)."""
    out = {}
    for path in sc.published_files(root):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        out[path.relative_to(root).as_posix()] = data.decode("utf-8", errors="replace")
    return out


def find(texts: dict[str, str], pattern: str | re.Pattern) -> list[str]:
    regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
    hits = []
    for name, text in texts.items():
        for m in regex.finditer(text):
            context = text[max(0, m.start() - 60): m.end() + 60].replace("\n", "\\n")
            hits.append(f"{name}: ...{context}...")
    return hits


def _specific(value: str | None) -> str | None:
    """``value`` when it is specific enough to search for, else None."""
    if not value or len(value) < 4 or value.lower() in GENERIC_NAMES:
        return None
    return value


def _path(value: str | os.PathLike | None) -> str | None:
    """A path worth searching for: absolute, at least two components deep."""
    if not value:
        return None
    text = str(value).rstrip("/")
    return text if text.startswith("/") and text.count("/") >= 2 else None


def needles() -> list[tuple[str, object]]:
    """(what, text or regex or None when too generic) for everything that must not be published."""
    home = Path.home()
    venv_lib = sysconfig.get_paths().get("purelib")
    return [
        ("project path", _path(sc.PROJECT_DIR)),
        ("project path (resolved)", _path(sc.PROJECT_DIR.resolve())),
        ("working directory", _path(os.getcwd())),
        ("home directory", _path(home)),
        ("home directory as /root/", "/root/"),
        ("any /home/<user>/ or /Users/<user>/ path", re.compile(r"/(?:home|Users)/[A-Za-z0-9._-]+/")),
        ("Windows user folder", re.compile(r"[A-Za-z]:\\\\?Users\\\\?")),
        ("temporary folder /tmp/", "/tmp/"),
        ("temporary folder", _path(tempfile.gettempdir())),
        ("site-packages paths", re.compile(r"(?:site|dist)-packages/")),
        ("this interpreter's site-packages", _path(venv_lib)),
        ("this interpreter's prefix", _path(sys.prefix)),
        ("host name", _specific(socket.gethostname())),
        ("fully qualified host name", _specific(socket.getfqdn())),
        ("user name", _specific(getpass.getuser())),
    ]


NEEDLES = needles()

# Files published exactly as a third-party package ships them: what they hold describes their
# authors' machines, not ours. Each is accepted only while byte-identical to the package's copy.
# (site file, package, path in the package, reason)
THIRD_PARTY_FILES = [
    ("broken_stamp.svg", "mkdocs_gallery", "static/broken_stamp.svg",
     "mkdocs-gallery's own image; its Inkscape metadata names its author's /home/ folder"),
]


def _shipped_as_is(root: Path, name: str) -> bool:
    import importlib.util
    for site_file, package, inner, _ in THIRD_PARTY_FILES:
        if name == site_file:
            spec = importlib.util.find_spec(package)
            source = Path(spec.origin).parent / inner if spec and spec.origin else None
            return bool(source and source.is_file() and source.read_bytes() == (root / name).read_bytes())
    return False


@site
@pytest.mark.parametrize("what, needle", NEEDLES, ids=[w for w, _ in NEEDLES])
def test_no_build_machine_detail_is_published(built_site, what, needle):
    if needle is None:
        pytest.skip(f"the {what} of this machine is too short or generic to search for (see "
                    "GENERIC_NAMES and _path); the /root/, /home/<user>/ and /tmp/ checks cover it")
    if isinstance(needle, str) and what.endswith("name"):
        needle = re.compile(r"(?<![A-Za-z0-9_-])" + re.escape(needle) + r"(?![A-Za-z0-9_-])")
    texts = {k: v for k, v in published_text(built_site).items() if not _shipped_as_is(built_site, k)}
    hits = find(texts, needle)
    assert not hits, f"the {what} appears in {len(hits)} place(s):\n" + "\n".join(hits[:30])


# -- Python warnings and tracebacks in what readers see -----------------------------------------

# A warning printed into published output, as Python formats it: "<Category>Warning: message".
# A mention of a warning class in prose or code (`DeprecationWarning`) has no colon and is fine.
WARNING_LINE = re.compile(r"\b([A-Z][A-Za-z]*Warning)\b:\s")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)")

# Warnings allowed in published output: (page glob, warning class, start of the message, reason).
# Only pages whose purpose is to *show* a warning belong here; third-party noise belongs in
# evidence/running/policy.py. The search index holds copies of pages' text, so a warning allowed
# on a page is allowed there too.
ALLOWED_WARNINGS: list[tuple[str, str, str, str]] = [
    # The migration page runs old Lightning 1.x calls against the installed version and shows
    # what they print: this deprecation notice is the point of the example.
    ("generated/migration/*", "UserWarning", "`precision=16` is supported for historical reasons",
     "the migration page demonstrates the old precision=16 spelling and its warning"),
    # Same example: the old spelling asks for fp16 AMP, which Lightning replaces on CPU.
    ("generated/migration/*", "UserWarning", "You passed `Trainer(accelerator='cpu', precision='16-mixed')`",
     "the migration page shows that precision=16 means fp16 AMP, replaced by bf16 on a CPU build"),
    # The debugging page's detect_anomaly run: what anomaly mode prints when it finds the NaN (the
    # operation and the forward call behind it) is the evidence the page is about.
    ("generated/topics/18_debugging/*", "UserWarning", "Error detected in SqrtBackward0",
     "the debugging page shows what autograd's anomaly mode prints at the operation that made the NaN"),
]
SEARCH_INDEX = "search/search_index.json"


def _allowed(name: str, category: str, message: str) -> bool:
    from fnmatch import fnmatch
    return any((fnmatch(name, glob) or name == SEARCH_INDEX) and category == cat and message.startswith(start)
               for glob, cat, start, _ in ALLOWED_WARNINGS)


def reader_text(name: str, text: str) -> str:
    """For HTML: the text a reader sees (tags removed, entities decoded); other files as they are."""
    if name.endswith(".html"):
        text = re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S | re.I)
        return unescape(re.sub(r"<[^>]+>", "", text))
    return text


def warnings_in(texts: dict[str, str]) -> list[str]:
    hits = []
    for name, text in texts.items():
        if not name.endswith((".html", ".json", ".txt", ".ipynb", ".md", ".xml")):
            continue
        text = reader_text(name, text)
        for m in WARNING_LINE.finditer(text):
            if not _allowed(name, m.group(1), text[m.end():m.end() + 200]):
                hits.append(f"{name}: ...{text[max(0, m.start() - 120): m.end() + 120]}...".replace("\n", "\\n"))
        for m in TRACEBACK.finditer(text):
            hits.append(f"{name}: traceback: ...{text[m.start(): m.end() + 300]}...".replace("\n", "\\n"))
    return hits


def test_warning_search_catches_printed_warnings_not_mentions():
    texts = {
        "a/index.html": "<p>Use <code>DeprecationWarning</code> filters.</p>",
        "b/index.html": "<pre>x.py:3: PossibleUserWarning: The dataloader does not have many workers</pre>",
        "c.json": '{"log": "lightning/fit.py:1: UserWarning: bad"}',
        "d/index.html": "<pre>Traceback (most recent call last):\n  File ...</pre>",
        "e.png": "UserWarning: in binary data is not text a reader sees",
    }
    hits = warnings_in(texts)
    assert [h.split(":")[0] for h in hits] == ["b/index.html", "c.json", "d/index.html"], hits


def test_leak_search_finds_paths_in_any_file(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "x.json").write_text('{"ckpt": "/home/alice/proj/last.ckpt"}')
    (tmp_path / "sitemap.xml.gz").write_bytes(gzip.compress(b"<loc>/tmp/build/x</loc>"))
    texts = published_text(tmp_path)
    assert find(texts, re.compile(r"/(?:home|Users)/[A-Za-z0-9._-]+/"))[0].startswith("results/x.json")
    assert find(texts, "/tmp/")[0].startswith("sitemap.xml.gz")


@site
def test_no_python_warning_or_traceback_is_published(built_site):
    hits = warnings_in(published_text(built_site))
    assert not hits, (f"{len(hits)} warning(s)/traceback(s) in published output (fix them, or silence "
                      "third-party ones in evidence/running/policy.py):\n" + "\n".join(hits[:30]))


def test_allow_lists_are_narrow_and_give_reasons():
    for glob, category, start, reason in ALLOWED_WARNINGS:
        assert glob != "*" and category.endswith("Warning") and len(start) > 20 and len(reason) > 20
    for site_file, package, inner, reason in THIRD_PARTY_FILES:
        assert package and inner and len(reason) > 20


def test_allowed_warning_must_match_page_and_message():
    glob, category, start, _ = ALLOWED_WARNINGS[0]
    text = f"<pre>{category}: {start} and more</pre>"
    assert warnings_in({"generated/migration/x/index.html": text}) == []
    assert warnings_in({"generated/topics/x/index.html": text})  # same text on a topic page
    assert warnings_in({"generated/migration/x/index.html": f"<pre>{category}: something else</pre>"})

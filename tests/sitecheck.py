"""Helpers for the checks of the built site: an HTML link extractor, link resolution, a small
static server (optionally under a sub-path, as project Pages serve it) and the browser launcher.

Used by tests/test_site_links.py, tests/test_browser.py and tests/test_privacy.py.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]

# attributes that point at something the page needs or offers, per tag
LINK_ATTRS = {
    "a": ("href",), "link": ("href",), "script": ("src",), "img": ("src", "srcset"),
    "source": ("src", "srcset"), "iframe": ("src",), "video": ("src", "poster"), "audio": ("src",),
    "embed": ("src",), "object": ("data",), "form": ("action",), "use": ("href", "xlink:href"),
    "image": ("href", "xlink:href"),
}
# files the build's test fixture writes next to the site, not part of what is published
NOT_PUBLISHED = {".build-log.txt"}


@dataclass
class Link:
    tag: str
    attr: str
    url: str
    rel: str = ""
    download: bool = False


@dataclass
class PageInfo:
    """What one HTML file holds: its links, the ids anchors can target, its h1s and lang."""

    links: list[Link] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    h1: int = 0
    lang: str | None = None


class LinkExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.info = PageInfo()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag in ("a", "input", "map") else ("id",):
            if attrs.get(key):
                self.info.ids.add(attrs[key])
        if tag == "html":
            self.info.lang = attrs.get("lang")
        if tag == "h1":
            self.info.h1 += 1
        for attr in LINK_ATTRS.get(tag, ()):
            value = attrs.get(attr)
            if value is None:
                continue
            urls = [part.strip().split()[0] for part in value.split(",") if part.strip()] \
                if attr == "srcset" else [value.strip()]
            for url in urls:
                self.info.links.append(Link(tag, attr, url, rel=(attrs.get("rel") or "").lower(),
                                            download="download" in attrs))

    handle_startendtag = handle_starttag


@functools.lru_cache(maxsize=None)
def _parse_cached(path: str, mtime: float) -> PageInfo:
    parser = LinkExtractor()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    parser.close()
    return parser.info


def parse(path: Path) -> PageInfo:
    return _parse_cached(str(path), path.stat().st_mtime)


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def published_files(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*") if p.is_file() and p.name not in NOT_PUBLISHED)


def page_url(site: Path, html: Path) -> str:
    """The URL path (relative to the site root) a reader uses for ``html``: ``a/b/`` for
    ``a/b/index.html``, ``404.html`` for ``404.html``."""
    rel = html.relative_to(site).as_posix()
    if rel == "index.html":
        return ""
    return rel[: -len("index.html")] if rel.endswith("/index.html") else rel


def site_url(site: Path) -> str:
    """The configured ``site_url``, read back from the home page's canonical link."""
    info = parse(site / "index.html")
    for link in info.links:
        if link.tag == "link" and link.rel == "canonical":
            return link.url
    raise AssertionError("index.html has no canonical link: is site_url set in mkdocs.yml?")


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme) or url.startswith("//")


EXTERNAL_FORM = re.compile(r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?(/[^\s<>\"]*)?$")


def external_form_error(url: str) -> str | None:
    """Why an external link is malformed, or None. No network: form only."""
    scheme = urlsplit(url).scheme
    if scheme == "mailto":
        return None if re.fullmatch(r"mailto:[^@\s]+@[^@\s]+\.[a-z]{2,}", url) else "malformed mailto"
    if scheme not in ("http", "https"):
        return f"unexpected scheme {scheme!r}"
    if not EXTERNAL_FORM.match(url):
        return "malformed URL (host, spaces or quotes)"
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "127.0.0.1", "0.0.0.0") or host.endswith(".local"):
        return "points at a local machine"
    return None


def resolve(site: Path, html: Path, url: str, root_prefix: str = "/") -> tuple[str, Path | None, str]:
    """Resolve an internal ``url`` found in ``html``.

    Returns (the path it names, the file it names or None when missing, its fragment).
    A relative URL must stay inside the site (too many ``..`` would leave it under a sub-path);
    a root-absolute URL (``/x``) must start with ``root_prefix``, the path of site_url.
    """
    parts = urlsplit(url)
    if parts.path.startswith("/"):
        path, prefix = unquote(parts.path), root_prefix
    else:
        prefix = "/__site_root__/"
        path = unquote(urlsplit(urljoin("http://site" + prefix + page_url(site, html), url)).path)
    if not path.startswith(prefix):
        return path, None, parts.fragment
    rel = path[len(prefix):]
    target = site / rel if rel else site
    if target.is_dir():
        target = target / "index.html"
    return rel, (target if target.is_file() else None), parts.fragment


CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def css_urls(css: Path) -> list[str]:
    return [u for u in CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace"))
            if not u.startswith(("data:", "#"))]


def topic_pages(site: Path) -> list[Path]:
    """Topic pages: gallery pages under generated/topics that hold the implementation tabs."""
    found = []
    for html in sorted((site / "generated" / "topics").glob("*/*/index.html")):
        if html.parent.name.startswith("plot_") and 'class="tabbed-set' in html.read_text(encoding="utf-8"):
            found.append(html)
    return found


def snippet_for_download(url_path: str) -> Path:
    """``.../downloads/<topic>/<file>`` -> ``snippets/<topic>/<file>`` of this checkout."""
    parts = url_path.rstrip("/").split("/")
    assert "downloads" in parts, url_path
    i = parts.index("downloads")
    return PROJECT_DIR / "snippets" / parts[i + 1] / parts[i + 2]


# -- a tiny static server ----------------------------------------------------------------------

class _Handler(http.server.SimpleHTTPRequestHandler):
    prefix = "/"

    def translate_path(self, path):
        # serve the folder only under the prefix, as GitHub project Pages serve /<repo>/
        clean = urlsplit(path).path
        if not clean.startswith(self.prefix) and clean + "/" != self.prefix:
            return str(Path(self.directory) / "__outside_the_prefix__" / "missing")
        return super().translate_path("/" + clean[len(self.prefix):])

    def log_message(self, *args):  # quiet
        pass


@contextlib.contextmanager
def serve(folder: Path, prefix: str = "/"):
    """Serve ``folder`` on 127.0.0.1 at a free port, under ``prefix``; yields the base URL."""
    assert prefix.startswith("/") and prefix.endswith("/")
    handler = type("Handler", (_Handler,), {"prefix": prefix})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(handler, directory=str(folder)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def fetch(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def join(base: str, url: str) -> str:
    return urljoin(base, url)


# -- the browser -------------------------------------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
INSTALL_HINT = ("install Chromium (`apt-get install chromium`) and Playwright for Python "
                "(`pip install -e \".[test]\"`), or point CHROMIUM_PATH at a Chromium/Chrome binary")


def chromium_path() -> str | None:
    """CHROMIUM_PATH if set, else /usr/bin/chromium, else a chromium or chrome on PATH."""
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def no_browser(reason: str):
    """Skip, except under CI (the CI variable is set) where a missing browser is a failure."""
    message = f"{reason}: {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and the browser checks cannot run. {message}", pytrace=False)
    pytest.skip(message)

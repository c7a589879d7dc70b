"""The built site in a real browser (headless Chromium driven by Playwright), as readers meet it.

The site is served on 127.0.0.1 by a thread of this test. Every page is opened once (the
``visits`` fixture of ``tests/conftest.py`` records what each test then checks, in the same pass
as the accessibility checks of ``tests/test_accessibility.py``): no console error, no failed request,
images loaded with alt text, one h1 and a language, and no sideways scrolling at phone width.
Then: linked code tabs, search, downloads received as files, and the site under a sub-path.

The browser is pytest-playwright's ``browser`` fixture, launched from Debian's Chromium (see
``browser_type_launch_args`` in ``tests/conftest.py``). Without Chromium these tests skip, saying
how to install it; with the CI variable set they fail instead. Accessibility is checked by axe-core
in ``tests/test_accessibility.py``, links by lychee in ``tests/test_links.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import sitecheck as sc

pytestmark = [pytest.mark.site, pytest.mark.browser]

PREFIX = "/torch-vs-lightning/"
open_context, watch = sc.open_context, sc.watch

def test_every_page_loads_without_errors(visits):
    # 404.html is served with status 200 by a static server when asked for by name
    bad = {name: f["problems"] or f["status"] for name, f in visits.items()
           if f["problems"] or f["status"] != 200}
    assert not bad, json.dumps(bad, indent=1)


def test_every_image_is_loaded_and_has_alt_text(visits, built_site):
    bad = {name: [i for i in f["imgs"] if not (i["loaded"] and i["alt"])] for name, f in visits.items()}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, json.dumps(bad, indent=1)
    plots = [i for f in visits.values() for i in f["imgs"] if "mkd_glr_" in (i["src"] or "")]
    assert plots, "no plot image on any page"


def test_every_page_has_one_h1_and_a_language(visits):
    bad = {name: (f["h1"], f["lang"]) for name, f in visits.items() if f["h1"] != 1 or not f["lang"]}
    assert not bad, bad


def test_no_page_scrolls_sideways_on_a_phone(visits):
    """At 390 px code blocks and tables may scroll inside themselves; the page itself must not."""
    bad = {name: f["phone"] for name, f in visits.items() if f["phone"]["scroll"] > f["phone"]["client"]}
    assert not bad, json.dumps(bad, indent=1)


# -- behaviour ----------------------------------------------------------------------------------

CHECKED_TAB = """(label) => {
  const sets = [...document.querySelectorAll('.tabbed-set')].filter(s =>
      [...s.querySelectorAll(':scope > .tabbed-labels > label')].some(l => l.textContent.trim() === label));
  if (!sets.length) return null;
  const input = sets[0].querySelector(':scope > input:checked');
  return sets[0].querySelector(`:scope > .tabbed-labels > label[for="${input.id}"]`).textContent.trim();
}"""


def pages_with_tab(site: Path, label: str) -> list[Path]:
    """Topic pages with a tab ``label`` first, then any other page with one."""
    marker = f">{label}</label>"
    topics = [p for p in sc.topic_pages(site) if marker in p.read_text()]
    others = [p for p in sc.html_pages(site) if p not in topics and marker in p.read_text()]
    return topics + others


def test_choosing_lightning_carries_to_the_next_page(browser, server, built_site):
    pages = pages_with_tab(built_site, "Lightning")
    if len(pages) < 2:
        pytest.skip(f"linked tabs need two pages with a 'Lightning' tab; this build has {len(pages)}")
    first, second = (server + sc.page_url(built_site, p) for p in pages[:2])
    context, traffic = open_context(browser)
    page = context.new_page()
    watch(page, traffic)
    page.goto(second)
    before = page.evaluate(CHECKED_TAB, "Lightning")
    assert before and before != "Lightning", f"{second} opens on {before!r}: the test would prove nothing"
    page.goto(first)
    page.locator(".tabbed-set > .tabbed-labels > label", has_text="Lightning").first.click()
    assert page.evaluate(CHECKED_TAB, "Lightning") == "Lightning"
    page.goto(second)
    assert page.evaluate(CHECKED_TAB, "Lightning") == "Lightning", f"{second} did not follow the choice"
    assert not traffic.problems, traffic.problems
    context.close()


def search_case(site: Path) -> tuple[str, str]:
    """(query, URL path of the page it must list): checkpointing once that topic exists."""
    pages = [sc.page_url(site, p) for p in sc.topic_pages(site)]
    checkpoint = [p for p in pages if "checkpoint" in p]
    if checkpoint:
        return "checkpoint", checkpoint[0]
    minimal = [p for p in pages if "minimal_loop" in p]
    assert minimal, f"neither a checkpointing nor a minimal-loop topic page among {pages}"
    return "training loop", minimal[0]


SEARCH_READY = """() => { const m = document.querySelector('.md-search-result__meta');
                         return !!m && m.textContent.trim() !== '' && !/initializing/i.test(m.textContent); }"""


def run_search(page, query: str) -> list[str]:
    page.locator("input.md-search__input").click()
    page.wait_for_function(SEARCH_READY, timeout=20000)  # the index is loaded in a web worker
    # type it, as a reader does: Material reads the query on keyup
    page.locator("input.md-search__input").press_sequentially(query, delay=20)
    page.wait_for_selector(".md-search-result__item", timeout=20000)
    return page.eval_on_selector_all(".md-search-result__item a", "els => els.map(a => a.href)")


def test_search_finds_the_topic(browser, server, built_site):
    query, expected = search_case(built_site)
    context, traffic = open_context(browser)
    page = context.new_page()
    watch(page, traffic)
    page.goto(server)
    hrefs = run_search(page, query)
    paths = {urlsplit(h).path for h in hrefs}
    assert urlsplit(server).path + expected in paths, (query, expected, hrefs)
    assert not traffic.problems, traffic.problems
    context.close()


def test_downloads_are_received_as_files(browser, server, built_site):
    """A reader clicks the downloads of a topic page and receives the files of ``snippets/``
    (every topic page's downloads are compared byte for byte in tests/test_links.py)."""
    pages = sc.topic_pages(built_site)
    assert pages, "no topic page"
    context, traffic = open_context(browser)
    page = context.new_page()
    watch(page, traffic)
    page.goto(server + sc.page_url(built_site, pages[0]))
    links = page.locator("a[download]")
    hrefs = links.evaluate_all("els => els.map(a => a.href)")
    assert len(hrefs) >= 4, hrefs  # three programs and the zip archive
    for i, href in enumerate(hrefs):
        if not links.nth(i).is_visible():  # not on screen (a closed box): fetched, not clicked
            response = page.request.get(href)
            assert response.ok and sc.download_problem(urlsplit(href).path, response.body()) is None, href
            continue
        with page.expect_download() as download:
            links.nth(i).click()
        saved = Path(download.value.path()).read_bytes()
        assert sc.download_problem(urlsplit(href).path, saved) is None, href
        assert download.value.suggested_filename == urlsplit(href).path.rsplit("/", 1)[-1]
    assert not traffic.problems, traffic.problems
    context.close()


# -- under a sub-path, as GitHub project Pages serve the site -----------------------------------

def test_site_works_in_the_browser_under_a_sub_path(browser, built_site):
    topic = sc.topic_pages(built_site)[0]
    query, expected = search_case(built_site)
    with sc.serve(built_site, PREFIX) as base:
        context, traffic = open_context(browser)
        page = context.new_page()
        watch(page, traffic)
        page.goto(base + sc.page_url(built_site, topic), wait_until="networkidle")
        images = page.evaluate(sc.PAGE_FACTS)["imgs"]
        assert images and all(i["loaded"] for i in images), images
        assert page.evaluate("getComputedStyle(document.body).fontFamily")  # stylesheets applied
        assert page.locator("a[download]").count() >= 3
        # the header's home link leads to the home page under the prefix, not to the server's root
        page.locator("a.md-header__button.md-logo").first.click()
        page.wait_for_load_state("networkidle")
        assert urlsplit(page.url).path == PREFIX, page.url
        hrefs = run_search(page, query)
        assert urlsplit(base).path + expected in {urlsplit(h).path for h in hrefs}, hrefs
        assert not traffic.problems, traffic.problems
        context.close()

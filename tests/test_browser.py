"""The built site in a real browser (headless Chromium driven by Playwright), as readers meet it.

The site is served on 127.0.0.1 by a thread of this test. Every page is opened once (the
``visits`` fixture of ``tests/conftest.py`` records what each test then checks, in the same pass
as the accessibility checks of ``tests/test_accessibility.py``): no console error, no failed request,
images loaded with alt text, one h1 and a language, and no sideways scrolling at phone width.
Then: linked code tabs, search, downloads received as files, and the site under a sub-path. At
1280 px every program view of a topic page (the changes-only view and the whole programs, in every
tab) shows 100 columns of code without scrolling sideways, prose keeps a readable measure and the
version matrix shows every release; at 390 px no topic page scrolls sideways in any tab.

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


# -- evidence at a laptop's width: programs and the version matrix at 1280 px ----------------------

CODE_COLUMNS = 100
"""Columns of a program a topic page shows at 1280 px without scrolling sideways."""
PROSE_CHARACTERS = 100
"""Most characters a line of prose may hold at 1280 px (a readable measure)."""

# Every code block of a topic's programs (the changes-only view and the whole programs), each tab
# shown in turn as a reader clicks it: the columns its code area holds (a probe of that many
# characters in the code's font, placed where the first line's text starts, against the code
# area's right edge), its longest line, and whether it scrolls sideways.
PROGRAM_CODE = """(columns) => {
  const found = new Map();
  const measure = () => {
    // reads first, then one layout with every probe in place
    const shown = [...document.querySelectorAll('.md-typeset .tabbed-block pre > code')]
      .filter(code => !found.has(code) && code.clientWidth);
    const facts = shown.map(code => {
      const block = code.closest('.tabbed-block'), set = block.closest('.tabbed-set');
      const label = set.querySelectorAll(':scope > .tabbed-labels > label')[
        [...block.parentElement.children].indexOf(block)];
      const file = code.closest('.highlight').querySelector('.filename');
      code.scrollLeft = 0;
      return {tab: label ? label.textContent.trim() : '?',
              view: code.closest('.change') ? 'changes' : (file ? file.textContent.trim() : 'code'),
              longest: Math.max(...code.textContent.split('\\n').map(line => line.length)),
              scrolls: code.scrollWidth > code.clientWidth};
    });
    const probes = shown.map(code => {
      const probe = document.createElement('span');
      probe.textContent = '0'.repeat(columns);
      const numbers = code.querySelector('.linenos');
      numbers ? numbers.after(probe) : code.prepend(probe);
      return probe;
    });
    shown.forEach((code, i) => {
      const text = probes[i].getBoundingClientRect(), area = code.getBoundingClientRect();
      const right = area.left + code.clientLeft + code.clientWidth - parseFloat(getComputedStyle(code).paddingRight);
      facts[i].columns = Math.floor((right - text.left) / (text.width / columns) + 0.01);
      found.set(code, facts[i]);
    });
    probes.forEach(probe => probe.remove());
  };
  measure();
  for (const label of document.querySelectorAll('.md-typeset .tabbed-set > .tabbed-labels > label')) {
    label.click();
    measure();
  }
  return [...found.values()];
}"""

# Characters a line of prose holds: a paragraph's (or list item's) width over the mean width of
# its own characters, set on one line in its own font. Paragraphs of at least two lines' text.
PROSE_MEASURE = """() => [...document.querySelectorAll('.md-content .md-typeset :is(p, li)')]
  .filter(p => p.clientWidth && !p.closest('table, pre, nav') && !p.querySelector('img, table, pre')
               && p.textContent.trim().length > 200)
  .map(p => {
    const text = p.textContent.replace(/\\s+/g, ' ').trim(), probe = document.createElement('span');
    probe.style.whiteSpace = 'nowrap';
    probe.textContent = text;
    p.appendChild(probe);
    const width = probe.getBoundingClientRect().width;
    probe.remove();
    return {start: text.slice(0, 60), characters: Math.round(p.clientWidth / (width / text.length))};
  })"""

ROOT_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
EVERY_TAB_OVERFLOW = """() => {
  let worst = document.documentElement.scrollWidth - document.documentElement.clientWidth;
  for (const label of document.querySelectorAll('.md-typeset .tabbed-set > .tabbed-labels > label')) {
    label.click();
    worst = Math.max(worst, document.documentElement.scrollWidth - document.documentElement.clientWidth);
  }
  return worst;
}"""


@pytest.fixture(scope="module")
def topic_layouts(browser, server, built_site, full_site) -> dict[str, dict]:
    """Every topic page at 1280 px (its programs' code blocks in every tab, its prose) and at
    390 px (how far the page scrolls sideways with each tab shown), by page; on the sample site
    of the default run, the topic pages among those that hold every kind of element."""
    pages = sc.topic_pages(built_site)
    if not full_site:
        pages = [p for p in pages if p.relative_to(built_site).as_posix() in sc.covering_pages(built_site)]
    assert pages, "no topic page"
    context, traffic = open_context(browser)
    page = context.new_page()
    watch(page, traffic)
    found = {}
    for html in pages:
        page.set_viewport_size(sc.DESKTOP)
        page.goto(server + sc.page_url(built_site, html), wait_until="load")
        facts = {"code": page.evaluate(PROGRAM_CODE, CODE_COLUMNS), "prose": page.evaluate(PROSE_MEASURE)}
        page.set_viewport_size(sc.PHONE)
        page.wait_for_timeout(50)
        facts["phone_overflow"] = page.evaluate(EVERY_TAB_OVERFLOW)
        found[html.relative_to(built_site).as_posix()] = facts
    assert not traffic.problems, traffic.problems
    context.close()
    return found


def test_programs_show_100_columns_without_sideways_scroll_at_1280_px(topic_layouts):
    """A program's line of up to 100 characters shows whole at a laptop's width, in the
    changes-only view and in the whole programs, in every tab."""
    narrow, scrolling = {}, {}
    for name, facts in topic_layouts.items():
        blocks = facts["code"]
        views = {b["view"] for b in blocks}
        assert "changes" in views and len(views) >= 3, (name, views)  # the changes and the programs
        narrow.update({f"{name} {b['tab']} {b['view']}": b["columns"] for b in blocks if b["columns"] < CODE_COLUMNS})
        scrolling.update({f"{name} {b['tab']} {b['view']}": b["longest"] for b in blocks
                          if b["scrolls"] and b["longest"] <= CODE_COLUMNS})
    assert not narrow, f"code areas narrower than {CODE_COLUMNS} columns: {json.dumps(narrow, indent=1)}"
    assert not scrolling, f"blocks of lines within {CODE_COLUMNS} columns that scroll: {json.dumps(scrolling, indent=1)}"
    longest = max(b["longest"] for facts in topic_layouts.values() for b in facts["code"])
    assert longest > 80, f"no program line is longer than 80 columns ({longest}): the check shows nothing"


def test_prose_keeps_a_readable_measure_at_1280_px(topic_layouts):
    wide = {name: [p for p in facts["prose"] if p["characters"] > PROSE_CHARACTERS]
            for name, facts in topic_layouts.items()}
    wide = {k: v for k, v in wide.items() if v}
    assert not wide, json.dumps(wide, indent=1)
    assert any(facts["prose"] for facts in topic_layouts.values()), "no paragraph measured"


def test_topic_pages_do_not_scroll_sideways_on_a_phone_in_any_tab(topic_layouts):
    """At 390 px code blocks scroll inside themselves; the page does not, whichever tab is shown."""
    bad = {name: facts["phone_overflow"] for name, facts in topic_layouts.items() if facts["phone_overflow"] > 0}
    assert not bad, bad


MATRIX = """() => {
  const table = document.querySelector('.md-typeset__table.matrix table');  // Material wraps it again
  if (!table) return null;
  let box = table.parentElement;
  while (box && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
  const right = box.getBoundingClientRect().left + box.clientLeft + box.clientWidth;
  return {headers: [...table.querySelectorAll('thead th')].map(th => th.textContent.trim()),
          hidden: [...table.querySelectorAll('thead th')].filter(th => th.getBoundingClientRect().right > right + 1)
                      .map(th => th.textContent.trim()),
          table: table.scrollWidth, box: box.clientWidth, box_scroll: box.scrollWidth};
}"""


def test_version_matrix_shows_every_release_at_1280_px(browser, server, built_site):
    from evidence import matrix

    pages = [p for p in sc.html_pages(built_site) if 'md-typeset__table matrix"' in p.read_text(encoding="utf-8")]
    assert len(pages) == 1, pages
    context, traffic = open_context(browser)
    page = context.new_page()
    watch(page, traffic)
    page.goto(server + sc.page_url(built_site, pages[0]), wait_until="load")
    facts = page.evaluate(MATRIX)
    assert facts["headers"][1:] == list(matrix.VERSIONS), facts["headers"]
    assert not facts["hidden"], f"releases behind a sideways scroll at 1280 px: {facts}"
    assert facts["table"] <= facts["box"] and facts["box_scroll"] <= facts["box"], facts
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

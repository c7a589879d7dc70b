"""Accessibility of every page, checked by axe-core (the engine behind Lighthouse's accessibility
audit), in the light and the dark palette: no violation of serious or critical impact.

Each page is opened in headless Chromium (pytest-playwright's ``browser``) with the reader's
colour scheme set, so Material for MkDocs picks its palette as it does for a reader; axe-core,
shipped inside ``axe-playwright-python``, runs on the rendered page (colour contrast included).
"""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests import sitecheck as sc

pytestmark = [pytest.mark.site, pytest.mark.browser]

FAILING_IMPACTS = ("serious", "critical")
SCHEMES = {"light": "default", "dark": "slate"}  # prefers-color-scheme -> Material's palette

# Rules switched off, by id, each with the reason it cannot pass with the theme. Empty: every
# rule of axe-core runs on every page.
DISABLED_RULES: dict[str, str] = {}

AXE_OPTIONS = {"resultTypes": ["violations"],
               "rules": {rule: {"enabled": False} for rule in DISABLED_RULES}}
# The palettes differ in colours only (same markup, names, roles and order), so the dark pass
# runs the rules that read colours (axe-core rejects a rule id it does not have); the light
# pass runs every rule.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
OPTIONS = {"light": AXE_OPTIONS,
           "dark": {**AXE_OPTIONS, "runOnly": {"type": "rule", "values": COLOUR_RULES}}}


def failing(results: dict) -> list[dict]:
    """The serious and critical violations of one axe run, each with the elements it found."""
    return [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
             "elements": [" ".join(map(str, n["target"])) for n in v["nodes"]][:5]}
            for v in results["violations"] if v["impact"] in FAILING_IMPACTS]


@pytest.fixture(scope="module")
def axe():
    return Axe()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_serious_or_critical_violation_on_any_page(browser, server, built_site, axe, scheme):
    context, traffic = sc.open_context(browser, color_scheme=scheme)
    page = context.new_page()
    found, pages = {}, sc.html_pages(built_site)
    for html in pages:
        page.goto(server + sc.page_url(built_site, html), wait_until="load")
        palette = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
        assert palette == SCHEMES[scheme], f"{html}: palette {palette!r} with prefers-color-scheme {scheme}"
        violations = failing(axe.run(page, options=OPTIONS[scheme]).response)
        if violations:
            found[html.relative_to(built_site).as_posix()] = violations
    context.close()
    assert len(pages) > 20
    assert not found, f"{len(found)} page(s) with serious or critical violations ({scheme}):\n" + \
        json.dumps(found, indent=1)


def test_axe_finds_what_it_must(browser, axe, tmp_path):
    """The check can fail: a page with an unlabelled image, a nameless button and grey on white."""
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><title>t</title></head><body><main><h1>T</h1>'
        '<img src="x.png"><button></button><p style="color:#bbb;background:#fff">faint</p>'
        '</main></body></html>')
    with sc.serve(tmp_path) as base:
        context, _ = sc.open_context(browser)
        page = context.new_page()
        page.goto(base)
        rules = {v["rule"] for v in failing(axe.run(page, options=AXE_OPTIONS).response)}
        context.close()
    assert {"image-alt", "button-name", "color-contrast", "html-has-lang"} <= rules, rules


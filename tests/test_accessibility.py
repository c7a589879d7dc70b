"""Accessibility of every page, checked by axe-core (the engine behind Lighthouse's accessibility
audit), in the light and the dark palette: no violation of serious or critical impact.

Each page is opened once in headless Chromium (pytest-playwright's ``browser``), where axe-core
(shipped inside ``axe-playwright-python``) runs on the rendered page, colour contrast included;
then the page is switched to the dark palette as Material's toggle switches it, and the colour
rules run again. That a reader whose system prefers dark gets the dark palette is tested too.
"""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests import sitecheck as sc

pytestmark = [pytest.mark.site, pytest.mark.browser]

SCHEMES = sc.PALETTES
# The pass over every page is ``visit_every_page`` in tests/sitecheck.py; the rules it switches
# off, each with the reason it cannot pass with the theme, are AXE_DISABLED_RULES there (none).


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_serious_or_critical_violation_on_any_page(visits, scheme):
    assert all(f["palette"] == SCHEMES["light"] for f in visits.values()), "a page did not open light"
    assert all(f["dark_applied"] for f in visits.values()), "the dark palette did not apply"
    bad = {name: f["axe"][scheme] for name, f in visits.items() if f["axe"][scheme]}
    assert not bad, f"{len(bad)} page(s) with serious or critical violations ({scheme}):\n" + \
        json.dumps(bad, indent=1)


def test_the_reader_s_dark_scheme_selects_the_dark_palette(browser, server):
    context, _ = sc.open_context(browser, color_scheme="dark")
    page = context.new_page()
    page.goto(server)
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == SCHEMES["dark"]
    context.close()


def test_axe_finds_what_it_must(browser, tmp_path):
    """The check can fail: a page with an unlabelled image, a nameless button and grey on white."""
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><title>t</title></head><body><main><h1>T</h1>'
        '<img src="x.png"><button></button><p style="color:#bbb;background:#fff">faint</p>'
        '</main></body></html>')
    with sc.serve(tmp_path) as base:
        context, _ = sc.open_context(browser)
        page = context.new_page()
        page.goto(base)
        rules = {v["rule"] for v in sc.axe_violations(Axe(), page, sc.AXE_OPTIONS)}
        context.close()
    assert {"image-alt", "button-name", "color-contrast", "html-has-lang"} <= rules, rules


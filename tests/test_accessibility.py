"""Accessibility of every page, checked by axe-core (the engine behind Lighthouse's accessibility
audit), in the light and the dark palette: no violation of serious or critical impact.

Each page is opened once in headless Chromium (pytest-playwright's ``browser``), where axe-core
(shipped inside ``axe-playwright-python``) runs on the rendered page: every rule that does not
read colours, on every page. The colour rules (contrast) are most of axe's time, and what they
find follows the elements' tags and classes, within their parents: the default run applies them
in the light palette and, switched as Material's toggle does, the dark one, on the fewest pages
that hold every kind of element of the site between them; ``-m slow`` on every other page too
(publishing runs both). That a reader whose system prefers dark gets the dark palette is tested
as well.
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


def _report(bad: dict, what: str) -> str:
    return f"{len(bad)} page(s) with serious or critical violations ({what}):\n" + json.dumps(bad, indent=1)


def test_no_serious_or_critical_violation_of_the_other_rules_on_any_page(visits):
    assert all(f["palette"] == SCHEMES["light"] for f in visits.values()), "a page did not open light"
    assert all("other" in f["axe"] for f in visits.values()), "a page was not checked"
    bad = {name: f["axe"]["other"] for name, f in visits.items() if f["axe"]["other"]}
    assert not bad, _report(bad, "rules other than colour")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_colour_violation_on_the_pages_that_hold_every_kind_of_element(visits, built_site, scheme):
    checked = {name: f for name, f in visits.items() if scheme in f["axe"]}
    assert set(checked) == set(sc.covering_pages(built_site))
    assert all(f["dark_applied"] for f in checked.values()), "the dark palette did not apply"
    bad = {name: f["axe"][scheme] for name, f in checked.items() if f["axe"][scheme]}
    assert not bad, _report(bad, f"colour, {scheme} palette")


def test_the_pages_checked_for_colour_hold_every_kind_of_element(built_site):
    chosen = sc.covering_pages(built_site)
    every = set().union(*(sc.element_kinds(p.read_text()) for p in sc.html_pages(built_site)))
    covered = set().union(*(sc.element_kinds((built_site / name).read_text()) for name in chosen))
    assert covered == every
    assert len(chosen) < len(sc.html_pages(built_site)) / 2  # what makes the default run quicker
    assert any(name.startswith("generated/topics/") and name.count("/") > 3 for name in chosen)  # a topic page


def test_element_kinds_are_tag_classes_and_style_within_the_parent():
    kinds = sc.element_kinds('<div class="admonition tip"><p class="b a">x<br><span class="k">def</span></p></div>'
                             '<pre><span style="color:#bbb">y</span><span class="k">z</span></pre>')
    assert kinds == {" > div.admonition.tip", "div.admonition.tip > p.a.b", "p.a.b > br", "p.a.b > span.k",
                     " > pre", 'pre > span[style="color:#bbb"]', "pre > span.k"}


@pytest.mark.slow
def test_no_colour_violation_on_the_other_pages(browser, server, built_site, visits):
    axe, bad = Axe(), {}
    context, _ = sc.open_context(browser, color_scheme="light")
    page = context.new_page()
    for name in [n for n, f in visits.items() if "light" not in f["axe"]]:
        page.goto(server + sc.page_url(built_site, built_site / name), wait_until="load")
        applied, found = sc.colour_violations(axe, page)
        assert applied, f"the dark palette did not apply on {name}"
        bad.update({f"{name} ({scheme})": v for scheme, v in found.items() if v})
    context.close()
    assert not bad, _report(bad, "colour, both palettes")


def test_the_reader_s_dark_scheme_selects_the_dark_palette(browser, server):
    context, _ = sc.open_context(browser, color_scheme="dark")
    page = context.new_page()
    page.goto(server)
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == SCHEMES["dark"]
    context.close()


def test_axe_finds_what_it_must(browser, tmp_path):
    """The check can fail: a page with an unlabelled image, a nameless button and grey on white,
    found by the colour rules and the others between them."""
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><head><title>t</title></head><body><main><h1>T</h1>'
        '<img src="x.png"><button></button><p style="color:#bbb;background:#fff">faint</p>'
        '</main></body></html>')
    with sc.serve(tmp_path) as base:
        context, _ = sc.open_context(browser)
        page = context.new_page()
        page.goto(base)
        axe = Axe()
        every, other, colour = ({v["rule"] for v in sc.axe_violations(axe, page, options)}
                                for options in (sc.AXE_OPTIONS, sc.AXE_OTHER_OPTIONS, sc.AXE_COLOUR_OPTIONS))
        context.close()
    assert {"image-alt", "button-name", "color-contrast", "html-has-lang"} <= every, every
    assert other | colour == every and colour == {"color-contrast"}  # the two halves split every rule


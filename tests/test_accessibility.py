"""Accessibility of every page, checked by axe-core (the engine behind Lighthouse's accessibility
audit), in the light and the dark palette: no violation of serious or critical impact.

Each page is opened once in headless Chromium (pytest-playwright's ``browser``), where axe-core
(shipped inside ``axe-playwright-python``) runs on the rendered page, colour contrast included.
The palettes differ in colours only, and colours follow an element's tag and classes, so the
default run switches to the dark palette (as Material's toggle does) and runs the colour rules
on the fewest pages that hold every kind of element of the site between them; ``-m slow`` runs
them on every other page too. That a reader whose system prefers dark gets the dark palette is
tested as well.
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
    checked = {name: f for name, f in visits.items() if scheme in f["axe"]}
    if scheme == "light":
        assert len(checked) == len(visits), "a page was not checked in the light palette"
    else:
        assert checked, "no page was checked in the dark palette"
    assert all(f.get("dark_applied", True) for f in visits.values()), "the dark palette did not apply"
    bad = {name: f["axe"][scheme] for name, f in checked.items() if f["axe"][scheme]}
    assert not bad, f"{len(bad)} page(s) with serious or critical violations ({scheme}):\n" + \
        json.dumps(bad, indent=1)


def test_the_dark_pass_covers_every_kind_of_element(built_site):
    chosen = sc.covering_pages(built_site)
    every = set().union(*(sc.element_kinds(p.read_text()) for p in sc.html_pages(built_site)))
    covered = set().union(*(sc.element_kinds((built_site / name).read_text()) for name in chosen))
    assert covered == every
    assert len(chosen) < len(sc.html_pages(built_site)) / 2  # what makes the default run quicker
    assert any(name.startswith("generated/topics/") and name.count("/") > 3 for name in chosen)  # a topic page


def test_element_kinds_tell_classes_and_inline_styles_apart():
    kinds = sc.element_kinds('<p class="b a">x</p><span class="k">def</span><span style="color:#bbb">y</span><br>')
    assert kinds == {"p.a.b", "span.k", 'span[style="color:#bbb"]', "br"}


@pytest.mark.slow
def test_no_serious_or_critical_violation_in_the_dark_palette_on_the_other_pages(browser, server, built_site,
                                                                                    visits):
    from axe_playwright_python.sync_playwright import Axe

    axe, bad = Axe(), {}
    context, _ = sc.open_context(browser, color_scheme="light")
    page = context.new_page()
    for name in [n for n, f in visits.items() if "dark" not in f["axe"]]:
        page.goto(server + sc.page_url(built_site, built_site / name), wait_until="load")
        applied, violations = sc.dark_violations(axe, page)
        assert applied, f"the dark palette did not apply on {name}"
        if violations:
            bad[name] = violations
    context.close()
    assert not bad, f"{len(bad)} page(s) with serious or critical violations (dark):\n" + json.dumps(bad, indent=1)


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


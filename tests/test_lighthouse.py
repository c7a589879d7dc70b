"""Lighthouse scores of the overview, a topic page and a benchmark page (tools/lighthouse.py).

Slow (about a minute per run; three runs per page, each category's median is checked, since a
busy machine lowers single performance scores) and needs the npm package ``lighthouse``
(``npm install --prefix .lighthouse lighthouse@12``) and Chromium: run with ``-m slow``.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import PROJECT_DIR

pytestmark = [pytest.mark.slow, pytest.mark.site]

spec = importlib.util.spec_from_file_location("lighthouse_tool", PROJECT_DIR / "tools" / "lighthouse.py")
lighthouse = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lighthouse)


def test_three_pages_score_at_least_95_in_every_category(built_site):
    try:
        lighthouse.lighthouse_command()
        lighthouse.chromium()
    except SystemExit as missing:
        pytest.skip(str(missing))
    results = lighthouse.measure(built_site, runs=3)
    low = {page: {c: v for c, v in r["scores"].items() if v < lighthouse.TARGET} for page, r in results.items()}
    assert not any(low.values()), (low, {p: (r["runs"], r["failed"], r["benchmark_index"]) for p, r in results.items()})

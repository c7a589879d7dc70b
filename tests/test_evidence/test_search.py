"""evidence/hooks/search.py: excluded sections are set aside while Material indexes a page.

The check that matters is against Material's own plugin: the same index, the same published
page, with and without the hook around it.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from material.plugins.search.plugin import SearchIndex

from evidence.hooks.search import on_page_context, put_back, set_aside

PAGE = """<h1 id="title">Title</h1>
<p>Prose a search must find.</p>
<section data-search-exclude="true">
<div class="tabbed-set"><pre><span class="k">def</span> <span class="nf">program_only</span>():</pre>
<section><p>a nested section, <em data-search-exclude="true">marked</em> too</p></section>
</div>
</section>
<h2 id="later">Later</h2>
<p>More prose <code>after</code> the programs.</p>
<section data-search-exclude="true"><p>second excluded part</p></section>
<p>Closing words.</p>
"""

MATERIAL_STRIPS = re.compile(r"\s?data-search-\w+=\"[^\"]+\"")
"""What Material's search plugin deletes from a page after indexing it (its own pattern)."""


def test_set_aside_empties_each_excluded_section_and_put_back_restores_it():
    emptied, kept = set_aside(PAGE)
    assert len(kept) == 2 and "program_only" in kept[0] and "nested section" in kept[0]
    assert "program_only" not in emptied and "second excluded part" not in emptied
    assert "Prose a search must find." in emptied and "Closing words." in emptied
    assert put_back(MATERIAL_STRIPS.sub("", emptied), kept) == MATERIAL_STRIPS.sub("", PAGE)


def test_unbalanced_markup_is_left_for_the_plugin():
    html = '<p>a</p><section data-search-exclude="true"><p>never closed'
    assert set_aside(html) == (html, [])


def _page(content: str):
    toc = [SimpleNamespace(id="title", url="#title", children=[
        SimpleNamespace(id="later", url="#later", children=[])])]
    return SimpleNamespace(content=content, toc=toc, url="topic/", meta={}, title="Title")


def _index_and_page(with_hook: bool) -> tuple[list[dict], str]:
    index = SearchIndex()
    page = _page(PAGE)

    def search_plugin():  # what material/plugins/search does in on_page_context
        index.add_entry_from_context(page)
        page.content = MATERIAL_STRIPS.sub("", page.content)

    if with_hook:
        before, after = on_page_context.methods
        before({}, page=page, config=None, nav=None)
        search_plugin()
        after({}, page=page, config=None, nav=None)
    else:
        search_plugin()
    return index.entries, page.content


def test_the_index_and_the_published_page_are_the_same_as_without_the_hook():
    with_hook, without = _index_and_page(True), _index_and_page(False)
    assert with_hook == without
    entries, content = with_hook
    text = " ".join(e["text"] for e in entries)
    assert "Prose a search must find." in text and "Closing words." in text
    assert "program_only" not in text and "second excluded part" not in text
    assert "program_only" in content and "data-search" not in content


def test_the_hook_runs_around_the_search_plugin():
    before, after = on_page_context.methods
    assert before.mkdocs_priority > 0 > after.mkdocs_priority  # Material's plugin runs at 0

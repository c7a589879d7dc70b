"""MkDocs hook: the search index is built without walking what it leaves out.

Material's search plugin (9.x, ``material/plugins/search``) feeds a page's whole HTML to its
parser and drops the text of elements marked ``data-search-exclude`` only once it has walked
them tag by tag. The program tabs of every topic page are such an element (see
`evidence.hooks.content.implementation_tabs`): highlighted code, one ``<span>`` per
token, about 70 % of the HTML of the site's pages. Walking it costs an unchanged rebuild
about two seconds.

So the inside of each excluded ``<section>`` is set aside just before the search plugin
indexes the page (``on_page_context`` at a priority above the plugin's default 0) and put back
just after it (a priority below): the plugin sees the same section, empty, and indexes the same
text; the page is published with everything in it. What the plugin does to the page itself
(it deletes its ``data-search-*`` attributes) is done to the set-aside HTML as well, so the
published page is byte for byte what it would have been.
"""

from __future__ import annotations

import re

from mkdocs.plugins import CombinedEvent, event_priority

EXCLUDED = re.compile(r'<section\b[^>]*\bdata-search-exclude="[^"]*"[^>]*>')
"""The opening tag of a section the search index leaves out."""

SECTION_TAG = re.compile(r"<(/?)section\b[^>]*>")
SEARCH_ATTRIBUTE = re.compile(r'\s?data-search-\w+="[^"]+"')
"""What Material's search plugin deletes from every page after indexing it (same pattern)."""

PLACEHOLDER = "<!-- set aside while indexing: {} -->"


def set_aside(html: str) -> tuple[str, list[str]]:
    """``html`` with the inside of every excluded ``<section>`` replaced by a numbered comment,
    and the replaced contents in order. Sections nested inside one are taken with it."""
    out, kept, position = [], [], 0
    for opening in EXCLUDED.finditer(html):
        if opening.start() < position:
            continue  # inside a section already set aside
        depth, end = 1, None
        for tag in SECTION_TAG.finditer(html, opening.end()):
            depth += -1 if tag.group(1) else 1
            if depth == 0:
                end = tag.start()
                break
        if end is None:
            break  # unbalanced markup: leave the rest for the plugin to walk
        out += [html[position:opening.end()], PLACEHOLDER.format(len(kept))]
        kept.append(html[opening.end():end])
        position = end
    out.append(html[position:])
    return "".join(out), kept


def put_back(html: str, kept: list[str]) -> str:
    """Undo `set_aside`, deleting ``data-search-*`` attributes from what comes back as the
    search plugin deleted them from the rest of the page."""
    for number, inner in enumerate(kept):
        html = html.replace(PLACEHOLDER.format(number), SEARCH_ATTRIBUTE.sub("", inner), 1)
    return html


@event_priority(50)
def _before_search(context, *, page, config, nav):
    page.content, page.evidence_aside = set_aside(page.content)  # kept on the page between the two events
    return context


@event_priority(-50)
def _after_search(context, *, page, config, nav):
    kept = getattr(page, "evidence_aside", None)
    if kept:
        page.content = put_back(page.content, kept)
        page.evidence_aside = None
    return context


on_page_context = CombinedEvent(_before_search, _after_search)

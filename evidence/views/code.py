"""Code shown by views: highlighted the way the site highlights code blocks."""

from __future__ import annotations

from evidence.views import Html


def highlighted(source: str, language: str = "python") -> Html:
    """``source`` as a highlighted block (Pygments, with the classes Material styles).

    Line breaks are written as character references: mkdocs-gallery indents every line of a
    cell's HTML output by four spaces (``gen_single._get_code_output``), which inside ``<pre>``
    would show, so every line after the first would look four spaces deeper than it is. A
    character reference is not a line for the gallery, and is one for the browser. Brackets are
    written as references as well, for Markdown's sake.
    """
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    block = highlight(source, get_lexer_by_name(language),
                      HtmlFormatter(cssclass=f"language-{language} highlight", wrapcode=True))
    # brackets as references too: "x[0][1]" in raw HTML would read as a Markdown reference link
    # to mkdocs-autorefs
    block = block.rstrip("\n").replace("\n", "&#10;").replace("[", "&#91;").replace("]", "&#93;")
    return Html(block)

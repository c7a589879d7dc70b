"""Code shown by views: highlighted the way the site highlights code blocks."""

from __future__ import annotations

from evidence.views import Html


def highlighted(source: str, language: str = "python") -> Html:
    """``source`` as a highlighted block (Pygments, with the classes Material styles)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    return Html(highlight(source, get_lexer_by_name(language),
                          HtmlFormatter(cssclass=f"language-{language} highlight", wrapcode=True)))

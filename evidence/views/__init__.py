"""Views: how results become what a page shows. Pages call these and build no markup.

A view returns an `Html` fragment, which mkdocs-gallery embeds as it is when it ends
a cell, prints text, or draws a matplotlib figure (saved as an image by the gallery). Tables
escape every cell; a cell that needs formatting says so with a typed cell (`Code`,
`Em`, `Strong`, `Lines`) rather than with markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable


class Html(str):
    """A fragment of HTML that mkdocs-gallery embeds in the page as it is."""

    def _repr_html_(self) -> str:
        return str(self)


class Cell:
    """A table cell with a format: its text is escaped, then wrapped."""

    tag = ""

    def __init__(self, value):
        self.value = value

    def html(self) -> str:
        text = html.escape(str(self.value))
        return f"<{self.tag}>{text}</{self.tag}>" if self.tag else text

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self.value)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class Code(Cell):
    """Inline code: a name, a path, a value as Python writes it."""

    tag = "code"


class Em(Cell):
    """Emphasis: a row that is not like the others (a total, a note)."""

    tag = "em"


class Strong(Cell):
    """Strong emphasis: what a reader must not miss (a failing check)."""

    tag = "strong"


class Lines(Cell):
    """Several values in one cell, one per line; each value may itself be a typed cell."""

    def __init__(self, values: Iterable):
        super().__init__(list(values))

    def html(self) -> str:
        return "<br>".join(cell_html(v) for v in self.value) or "–"


class Joined(Cell):
    """Several values in one cell on one line, separated by ``sep``."""

    def __init__(self, values: Iterable, sep: str = ", "):
        super().__init__(list(values))
        self.sep = sep

    def html(self) -> str:
        return html.escape(self.sep).join(cell_html(v) for v in self.value) or "–"


class Link(Cell):
    """A link: its text is escaped, its target is a URL relative to the page (or ``#anchor``)."""

    def __init__(self, value, href: str):
        super().__init__(value)
        self.href = href

    def html(self) -> str:
        return f'<a href="{html.escape(self.href, quote=True)}">{cell_html(self.value)}</a>'


def codes(values: Iterable, sep: str = ", ") -> Joined:
    """Every value as inline code, on one line: ``codes(["a.ckpt", "b.ckpt"])``."""
    return Joined([Code(v) for v in values], sep)


def cell_html(value) -> str:
    """One cell's HTML: typed cells format themselves, everything else is escaped text."""
    if isinstance(value, Cell):
        return value.html()
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return html.escape(number(value))
    return html.escape(str(value))


def table(headers: list[str], rows: Iterable[Iterable], caption: str | None = None, css_class: str = "",
          labels: bool = False) -> Html:
    """A table (Material styles it like a Markdown table); every header and cell is escaped.

    Cells may be text, numbers, booleans (``yes``/``no``), ``None`` (``–``) or typed cells;
    ``css_class`` names a style of ``docs/assets/extra.css`` for the table (set on its wrapper);
    ``labels`` gives each cell its column's header as ``data-label`` (``summary-table`` shows
    each row as a card on a phone, a cell's label before it).
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    label = [f' data-label="{html.escape(str(h), quote=True)}"' if labels else "" for h in headers]
    body = "".join("<tr>" + "".join(f"<td{label[i] if i < len(label) else ''}>{cell_html(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    wrap = f"md-typeset__table {html.escape(css_class)}".strip()  # Material styles only class-less tables
    return Html(f'<div class="md-typeset__scrollwrap"><div class="{wrap}"><table>{cap}'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></div>")


def admonition(kind: str, title: str, *paragraphs) -> Html:
    """A Material admonition (``note``, ``info``, ``success``, ``warning``, ``failure``).

    The title and paragraphs are escaped; a paragraph may also be an `Html` fragment
    built by another view, or a list of typed cells shown as one paragraph.
    """
    body = "".join(p if isinstance(p, Html) else f"<p>{inline(p)}</p>" for p in paragraphs)
    return Html(f'<div class="admonition {html.escape(kind)}"><p class="admonition-title">{inline(title)}</p>'
                f"{body}</div>")


def inline(value) -> str:
    """Text and typed cells as inline HTML (a list is concatenated)."""
    if isinstance(value, (list, tuple)):
        return "".join(cell_html(v) for v in value)
    return cell_html(value)


def paragraph(*parts) -> Html:
    """One paragraph of text and typed cells: ``paragraph("Result: ", Code(value))``."""
    return Html(f"<p>{inline(list(parts))}</p>")


# -- numbers ------------------------------------------------------------------------------------

def number(value: float, digits: int = 4) -> str:
    """A float with ``digits`` significant digits; zero stays ``0.0``."""
    if value == 0:
        return "0.0"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def difference(value: float) -> str:
    """A max |difference|: ``0.0`` stays ``0.0``; small numbers in scientific notation."""
    if value == 0:
        return "0.0"
    if math.isinf(value):
        return "not comparable (shapes or keys differ)"
    return f"{value:.3g}"


def seconds(value: float | None) -> str:
    """``0.000042`` -> ``42 µs``, ``0.0123`` -> ``12.3 ms``, ``3.4`` -> ``3.40 s``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if abs(value) < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def nbytes(n: float | None) -> str:
    """``2048`` -> ``2.0 KiB``."""
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def count(n: float) -> str:
    """A parameter count: ``1234`` -> ``1.23 k``, ``2.1e6`` -> ``2.1 M``."""
    if n >= 1e6:
        return f"{n / 1e6:.3g} M"
    if n >= 1e3:
        return f"{n / 1e3:.3g} k"
    return f"{n:.0f}"

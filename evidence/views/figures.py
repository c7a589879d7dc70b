"""Figures: one look for every plot on the site, readable in the light and the dark palette.

Figures are drawn on an opaque white card (the site's CSS rounds it and dims it slightly in
the dark palette) with colour-blind-safe colours (Okabe-Ito) and a line style per
implementation, so overlaid curves stay distinguishable where they coincide.
"""

from __future__ import annotations

from evidence.programs import LABELS

COLORS = {"pytorch": "#0072B2", "lightning": "#D55E00", "fabric": "#009E73"}
"""One colour per implementation kind (Okabe-Ito blue, vermillion, green)."""

STYLES = {"pytorch": dict(linestyle="-", marker="o", linewidth=3.0, alpha=0.55, markersize=5),
          "lightning": dict(linestyle="--", marker="s", linewidth=2.0, markersize=4),
          "fabric": dict(linestyle=":", marker="^", linewidth=2.0, markersize=4)}
"""Plain PyTorch wide and translucent underneath; Lightning dashed and Fabric dotted on top."""

_RC = {"figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white",
       "axes.edgecolor": "#444444", "axes.labelcolor": "#222222", "text.color": "#222222",
       "xtick.color": "#333333", "ytick.color": "#333333", "axes.grid": True, "grid.alpha": 0.3,
       "font.size": 10, "legend.framealpha": 0.9}


def style(kind: str) -> dict:
    """Matplotlib keyword arguments for a line of implementation ``kind``."""
    return {"color": COLORS.get(kind), **STYLES.get(kind, {})}


def panels(n: int, width: float = 5.2, height: float = 3.6, **kwargs):
    """A figure with ``n`` side-by-side axes; returns ``(figure, [axes...])``."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(_RC)
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, **kwargs)
    return fig, list(axes[0])


def overlay(ax, kind: str, x, y, label: str | None = None, **extra) -> None:
    """Draw one implementation's series in its style."""
    ax.plot(list(x), list(y), label=label or LABELS.get(kind, kind), **{**style(kind), **extra})


def finish(ax, title: str = "", xlabel: str = "", ylabel: str = "", logy: bool = False, legend: bool = True) -> None:
    """Title, labels, optional log scale and the legend of one panel."""
    if title:
        ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)

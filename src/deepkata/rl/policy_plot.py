"""Drawing a tabular policy on its grid: one arrow (or letter) per state, as in Sutton & Barto's figures.

A :class:`~deepkata.rl.envs.GridView` says which state each cell shows and how cells are
marked (start, goal, holes, the cliff, walls); the task's glyph function turns an action into
an arrow or a letter. Cells where the drawn action is not optimal are shaded, so a learned
policy and the value-iteration optimum can be compared at a glance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepkata.rl.envs import Glyph, GridView

_MARK_COLOURS = {"H": "#9ecae1", "C": "#bdbdbd", "G": "#a1d99b", "S": "#fff7bc"}
_SUBOPTIMAL = "#fcbba1"


def draw_policy(
    ax: Any,
    view: GridView,
    policy: np.ndarray,
    glyph: Callable[[int, int], Glyph],
    *,
    optimal: np.ndarray | None = None,
    title: str | None = None,
) -> None:
    """Draw ``policy`` (S,) on ``ax``; ``optimal`` (S, A) bool marks the optimal actions."""
    from matplotlib.patches import Rectangle

    rows, cols = view.states.shape
    for (r, c), s in np.ndenumerate(view.states):
        mark = view.marks.get((r, c), "")
        colour = _MARK_COLOURS.get(mark, "white")
        if s >= 0 and optimal is not None and not optimal[s, policy[s]] and mark not in ("H", "G", "C"):
            colour = _SUBOPTIMAL
        ax.add_patch(Rectangle((c, r), 1, 1, facecolor=colour, edgecolor="#d9d9d9", lw=0.8))
        if mark:
            ax.text(c + 0.08, r + 0.25, mark, fontsize=8, color="#525252")
        if s < 0 or mark in ("H", "G", "C"):
            continue
        g = glyph(int(s), int(policy[s]))
        if isinstance(g, str):
            ax.text(c + 0.5, r + 0.55, g, ha="center", va="center", fontsize=11, fontweight="bold")
        else:
            dr, dc = g
            ax.annotate(
                "", xy=(c + 0.5 + 0.32 * dc, r + 0.5 + 0.32 * dr), xytext=(c + 0.5 - 0.32 * dc, r + 0.5 - 0.32 * dr),
                arrowprops={"arrowstyle": "->", "lw": 1.4, "color": "black"},
            )  # fmt: skip
    for (r0, c0), (r1, c1) in view.walls:
        if r0 == r1:  # a wall on the vertical line between two cells of a row
            x = max(c0, c1)
            ax.plot([x, x], [r0, r0 + 1], color="black", lw=3)
        else:
            y = max(r0, r1)
            ax.plot([c0, c0 + 1], [y, y], color="black", lw=3)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or view.title, fontsize=9)

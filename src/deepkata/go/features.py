"""The input planes of AlphaGo's networks, scaled to small boards, and the eight board symmetries.

AlphaGo (Silver et al. 2016, Extended Data Table 2) feeds its policy and value networks 48
binary planes of 19 x 19 (the value network one more: the colour to play). These are 23 planes
in the same spirit, from the view of the player to move, each (size, size):

====  =======================================================================================
0     the player's stones
1     the opponent's stones
2     empty points
3     ones (the board itself, so that convolutions see the edge: their padding is zeros)
4-7   the move played 1, 2, 3 and 4 turns ago (AlphaGo: turns since, 8 planes)
8-11  the liberties of the chain on the point: 1, 2, 3, 4 or more (AlphaGo: 8 planes, 1..8+)
12-14 the opposing stones a play there would capture: 1, 2, 3 or more (AlphaGo: 8 planes)
15-16 self-atari: the play leaves the player's chain of 1, or of 2 or more stones in atari
17-20 the liberties of the player's chain after a play there: 1, 2, 3, 4 or more
21    sensible: legal, and not filling the player's own eye
22    the player to move is Black (the value network's extra plane; given to both here)
====  =======================================================================================

Left out against AlphaGo's: ladder capture and ladder escape (a ladder is read by a search;
on 9 x 9 the boards are small enough for the networks to see most of one), the zeros plane, and
turns since beyond four. The counts come from :meth:`deepkata.go.board.GoState.tactics`, a
compiled kernel that plays each legal point on a copy of the board.

**Symmetries.** A Go position means the same under the eight rotations and reflections of the
board (the dihedral group D4). :func:`transform_planes` and :func:`transform_actions` apply
symmetry k (0-7: k % 4 quarter turns, then a mirror when k >= 4) to planes and to moves (the
pass is left alone); :func:`inverse` undoes one. Training draws a random one per position, and
evaluation averages a network's outputs over all eight.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from deepkata.go.board import GoState

__all__ = ["PLANES", "PLANE_NAMES", "SYMMETRIES", "inverse", "planes", "transform_actions", "transform_planes"]

PLANE_NAMES = (
    "own stones", "opponent stones", "empty", "ones",
    "1 move ago", "2 moves ago", "3 moves ago", "4 moves ago",
    "chain liberties 1", "chain liberties 2", "chain liberties 3", "chain liberties 4+",
    "captures 1", "captures 2", "captures 3+",
    "self-atari 1", "self-atari 2+",
    "liberties after 1", "liberties after 2", "liberties after 3", "liberties after 4+",
    "sensible", "black to play",
)  # fmt: skip
PLANES = len(PLANE_NAMES)
SYMMETRIES = 8
HISTORY = 4  # moves-ago planes


def _buckets(values: np.ndarray, top: int) -> np.ndarray:
    """(top, ...) one plane per value 1..top, the last taking every value >= top."""
    return np.stack([values == v for v in range(1, top)] + [values >= top])


def planes(state: GoState) -> np.ndarray:
    """(PLANES, size, size) float32 of the position, for the player to move."""
    n, me = state.size, state.to_play
    stones = state.stones()  # 0 empty, 1 black, 2 white
    tactics = state.tactics(me)
    recent = np.zeros((HISTORY, n, n), dtype=bool)
    for ago, (_, action) in enumerate(reversed(state.moves[-HISTORY:])):
        if action != state.pass_action:
            recent[ago, action // n, action % n] = True
    out = np.concatenate([
        np.stack([stones == me + 1, stones == 2 - me, stones == 0, np.ones((n, n), dtype=bool)]),
        recent,
        _buckets(tactics[0], 4),
        _buckets(tactics[1], 3),
        _buckets(tactics[3], 2),
        _buckets(tactics[2], 4),
        tactics[4:5] == 1,
        np.full((1, n, n), me == 0),
    ])  # fmt: skip
    return out.astype(np.float32)


def legal_mask(state: GoState) -> np.ndarray:
    """(size^2 + 1,) bool: the player to move's legal points (superko included), and the pass."""
    legal = np.zeros(state.pass_action + 1, dtype=bool)
    legal[state.legal_points(state.to_play)] = True
    legal[state.pass_action] = True
    return legal


def transform_planes(x: np.ndarray, k: int) -> np.ndarray:
    """Symmetry k of planes (..., size, size): k % 4 quarter turns, then a mirror if k >= 4."""
    y = np.rot90(x, k % 4, axes=(-2, -1))
    return np.flip(y, axis=-1) if k >= 4 else y


@lru_cache(maxsize=None)
def _action_maps(size: int) -> np.ndarray:
    """(8, size^2 + 1): where symmetry k sends each action (the pass stays the pass)."""
    grid = np.arange(size * size).reshape(size, size)
    maps = np.empty((SYMMETRIES, size * size + 1), dtype=np.int64)
    for k in range(SYMMETRIES):
        moved = transform_planes(grid, k)  # moved[y', x'] = the action that lands on (y', x')
        maps[k, moved.ravel()] = np.arange(size * size)
        maps[k, size * size] = size * size
    maps.flags.writeable = False
    return maps


def transform_actions(actions: np.ndarray | int, k: int, size: int) -> np.ndarray:
    """Where symmetry k moves actions (y size + x; size^2 is the pass)."""
    return _action_maps(size)[k][actions]


def inverse(k: int) -> int:
    """The symmetry that undoes k: a quarter-turn count reversed; every mirror is its own inverse."""
    return (4 - k) % 4 if k < 4 else k

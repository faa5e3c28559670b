"""The environments of the tabular kata: the notes' nine-room graph, and the tasks on offer.

**The nine-room graph.** The curriculum's exercise (../shared/curriculum/003, Day 4 Section 1)
walks an agent through 9 rooms: from state ``p_state`` it may move to room j wherever
``reward[p_state, j] >= 1``, and state 8 is the goal. The notes do not print their reward
matrix, so deepkata fixes one, as data (:data:`ROOM_DOORS`): the rooms form a 3x3 block,
numbered row by row, with doors between some neighbours::

    0   1 - 2          reward[s, j] = 0    no door: the move is not allowed
    |       |          reward[s, j] = 1    a door to room j
    3   4 - 5          reward[s, j] = 100  a door into the goal, room 8
    |   |
    6 - 7 - 8

:class:`NineRoomsEnv` is that graph as a gymnasium environment: action j means "go to room j";
through a door the agent moves and receives reward[s, j]; without one it stays put and
receives 0. An episode starts in a room drawn uniformly from 0-7 (the notes draw 0-8; starting
in the goal would end the episode before it began) and ends on entering room 8. Like
gymnasium's toy-text environments it exposes its model, ``P[s][a] = [(prob, s', r, terminated)]``,
and ``initial_state_distrib``, and reports ``action_mask`` (the doors) in ``info``.

**Tasks.** :data:`TASKS` lists the environments the tabular kata can use, with the discount the
textbook uses for each, the states that count as reaching the goal and how to draw a policy on
a grid (:class:`GridView`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from deepkata.core.errors import unknown

ROOMS_ID = "deepkata/NineRooms-v0"
ROOM_COLUMNS = 3
ROOM_GOAL = 8
ROOM_DOORS: tuple[tuple[int, int], ...] = ((0, 3), (3, 6), (6, 7), (7, 8), (4, 7), (4, 5), (2, 5), (1, 2))
DOOR_REWARD = 1.0
GOAL_REWARD = 100.0
ROOMS_TIME_LIMIT = 50


def room_rewards() -> np.ndarray:
    """The 9x9 reward matrix of the notes' exercise: reward[s, j] >= 1 where a door leads from s to j."""
    reward = np.zeros((9, 9))
    for a, b in ROOM_DOORS:
        for s, j in ((a, b), (b, a)):
            reward[s, j] = GOAL_REWARD if j == ROOM_GOAL else DOOR_REWARD
    return reward


class NineRoomsEnv(gym.Env[int, int]):
    """The notes' room graph (see the module docstring); observation and action: a room 0-8."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode not in (None, "ansi"):
            raise ValueError(f"unsupported render_mode {render_mode!r}; expected None or 'ansi'")
        self.render_mode = render_mode
        self.reward_matrix = room_rewards()
        n = len(self.reward_matrix)
        self.observation_space = spaces.Discrete(n)
        self.action_space = spaces.Discrete(n)
        self.P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {
            s: {j: [self._outcome(s, j)] for j in range(n)} for s in range(n)
        }
        self.initial_state_distrib = np.where(np.arange(n) == ROOM_GOAL, 0.0, 1.0 / (n - 1))
        self.s = 0

    def _outcome(self, s: int, j: int) -> tuple[float, int, float, bool]:
        if s == ROOM_GOAL:  # the goal is terminal: nothing happens there
            return (1.0, s, 0.0, True)
        r = float(self.reward_matrix[s, j])
        if r >= 1:  # the notes' rule: a move is allowed where reward >= 1
            return (1.0, j, r, j == ROOM_GOAL)
        return (1.0, s, 0.0, False)

    def action_mask(self, s: int) -> np.ndarray:
        return (self.reward_matrix[s] >= 1).astype(np.int8)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.s = int(self.np_random.choice(len(self.initial_state_distrib), p=self.initial_state_distrib))
        return self.s, {"prob": 1.0, "action_mask": self.action_mask(self.s)}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        p, s, r, terminated = self.P[self.s][int(action)][0]
        self.s = s
        return s, r, terminated, False, {"prob": p, "action_mask": self.action_mask(s)}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        doors = {frozenset(d) for d in ROOM_DOORS}
        lines = []
        for row in range(3):
            cells, below = [], []
            for col in range(3):
                s = row * ROOM_COLUMNS + col
                mark = f"[{s}]" if s == self.s else f" {s} "
                cells.append(mark + (" - " if col < 2 and frozenset((s, s + 1)) in doors else "   "))
                below.append(" |    " if row < 2 and frozenset((s, s + 3)) in doors else "      ")
            lines.append("".join(cells).rstrip())
            if row < 2:
                lines.append("".join(below).rstrip())
        return "\n".join(lines) + "\n"


_ROOM_REWARDS = room_rewards()

if ROOMS_ID not in gym.registry:
    gym.register(id=ROOMS_ID, entry_point=NineRoomsEnv, max_episode_steps=ROOMS_TIME_LIMIT)


# --- the tasks of the tabular kata ------------------------------------------------------------

Glyph = tuple[float, float] | str  # an arrow (d_row, d_col) or a letter drawn in the cell


@dataclass(frozen=True)
class GridView:
    """One picture of a policy: which state each grid cell shows, and what marks the cells carry."""

    title: str
    states: np.ndarray  # (rows, cols) state index shown in each cell, -1 for none
    marks: dict[tuple[int, int], str]  # (row, col) -> "S" start, "G" goal, "H" hole, "C" cliff, "R"... labels
    walls: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()  # pairs of adjacent cells with no passage


@dataclass(frozen=True)
class Task:
    """An environment of the tabular kata and what the kata needs to know about it."""

    env_id: str
    gamma: float  # the discount the textbook uses for it
    goal_states: frozenset[int]  # entering one of these ends the episode in success
    views: Callable[[gym.Env], list[GridView]]
    glyph: Callable[[int, int], Glyph]  # how action a in state s is drawn
    time_limit: int | None  # the environment's own limit, None where it has none
    undiscounted: bool  # gamma = 1 is well defined: every step costs, so only ending an episode pays
    kwargs: dict[str, Any]

    def make(self, **kwargs: Any) -> gym.Env:
        return gym.make(self.env_id, **{**self.kwargs, **kwargs})


_MOVES = {"up": (-1.0, 0.0), "down": (1.0, 0.0), "left": (0.0, -1.0), "right": (0.0, 1.0)}


def _frozen_lake_views(env: gym.Env) -> list[GridView]:
    desc = env.unwrapped.desc.astype(str)  # type: ignore[attr-defined]
    states = np.arange(desc.size).reshape(desc.shape)
    marks = {(r, c): desc[r, c] for r, c in np.ndindex(desc.shape) if desc[r, c] in "SGH"}
    return [GridView("FrozenLake 4x4", states, marks)]


def _cliff_views(env: gym.Env) -> list[GridView]:
    states = np.arange(48).reshape(4, 12)
    marks = {(3, 0): "S", (3, 11): "G", **{(3, c): "C" for c in range(1, 11)}}
    states[3, 1:] = -1  # the cliff and the goal are never acted in
    return [GridView("Cliff walking", states, marks)]


TAXI_STANDS = "RGYB"  # the four stands of Taxi's map, in its pass_loc / dest_idx order


def _taxi_views(env: gym.Env) -> list[GridView]:
    taxi = env.unwrapped
    locs = taxi.locs  # type: ignore[attr-defined]
    desc = taxi.desc.astype(str)  # type: ignore[attr-defined]
    walls = tuple(((r, c), (r, c + 1)) for r in range(5) for c in range(4) if desc[r + 1, 2 * c + 2] == "|")
    marks = {tuple(loc): TAXI_STANDS[i] for i, loc in enumerate(locs)}
    views = []
    for title, passenger in (("Taxi: passenger at R, for G", 0), ("Taxi: passenger aboard, for G", 4)):
        states = np.array([[taxi.encode(r, c, passenger, 1) for c in range(5)] for r in range(5)])  # type: ignore[attr-defined]
        views.append(GridView(title, states, marks, walls))
    return views


def _taxi_glyph(s: int, a: int) -> Glyph:
    return [_MOVES["down"], _MOVES["up"], _MOVES["right"], _MOVES["left"], "P", "D"][a]


def _rooms_views(env: gym.Env) -> list[GridView]:
    doors = {frozenset(d) for d in ROOM_DOORS}
    cells = [(s // ROOM_COLUMNS, s % ROOM_COLUMNS) for s in range(9)]
    walls = tuple(
        (cells[s], cells[j])
        for s in range(9)
        for j in (s + 1, s + ROOM_COLUMNS)
        if j < 9 and (j != s + 1 or j % ROOM_COLUMNS) and frozenset((s, j)) not in doors
    )
    return [GridView("Nine rooms (the notes' graph)", np.arange(9).reshape(3, 3), {(2, 2): "G"}, walls)]


def _rooms_glyph(s: int, a: int) -> Glyph:
    if a == s or _ROOM_REWARDS[s, a] < 1:  # no door: the agent stays where it is
        return "×"
    (r0, c0), (r1, c1) = divmod(s, ROOM_COLUMNS), divmod(a, ROOM_COLUMNS)
    return (float(r1 - r0), float(c1 - c0))


def _compass_glyph(s: int, a: int) -> Glyph:
    return [_MOVES["left"], _MOVES["down"], _MOVES["right"], _MOVES["up"]][a]  # FrozenLake: 0 left, 1 down, ...


def _cliff_glyph(s: int, a: int) -> Glyph:
    return [_MOVES["up"], _MOVES["right"], _MOVES["down"], _MOVES["left"]][a]


def _taxi_goals() -> frozenset[int]:
    # a successful drop-off leaves the passenger at the destination: pass_loc == dest_idx
    return frozenset(((r * 5 + c) * 5 + d) * 4 + d for r in range(5) for c in range(5) for d in range(4))


TASKS: dict[str, Task] = {
    "FrozenLake-v1": Task("FrozenLake-v1", 0.99, frozenset({15}), _frozen_lake_views, _compass_glyph, 100, False,
                          {"map_name": "4x4", "is_slippery": True}),
    "CliffWalking-v1": Task("CliffWalking-v1", 1.0, frozenset({47}), _cliff_views, _cliff_glyph, None, True, {}),
    "Taxi-v4": Task("Taxi-v4", 0.99, _taxi_goals(), _taxi_views, _taxi_glyph, 200, True, {}),
    ROOMS_ID: Task(ROOMS_ID, 0.9, frozenset({ROOM_GOAL}), _rooms_views, _rooms_glyph, ROOMS_TIME_LIMIT, False, {}),
}  # fmt: skip


def get_task(env_id: str) -> Task:
    try:
        return TASKS[env_id]
    except KeyError:
        raise unknown("environment", env_id, TASKS) from None

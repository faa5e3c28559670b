"""Monte Carlo tree search over any :class:`~deepkata.search.game.Game`: UCT, RAVE and PUCT.

Each simulation walks from the root to a leaf, evaluates the leaf and backs the value up:

1. **selection**: at each node, take the child with the highest score (below);
2. **expansion**: a node reached ``expand_after`` times grows its children, one per action
   the game offers a search (:meth:`~deepkata.search.game.Game.search_actions`). This is the
   curriculum's rule: the tree grows below a move once its simulations pass a threshold
   (AlphaGo used 40, plain UCT 1);
3. **evaluation**: an :class:`Evaluator` gives the leaf a value v in [-1, 1] for the player
   to move there (and, optionally, prior probabilities of its actions): a random playout
   here (:class:`RolloutEvaluator`), a value network in AlphaGo Zero;
4. **backup**: each edge (s, a) on the path adds v, seen by the player to move at s, to
   W(s, a) and one visit to N(s, a); Q(s, a) = W(s, a) / N(s, a).

Selection rules, with N the number of simulations that have passed through s:

- ``uct`` (Kocsis and Szepesvari 2006): Q(s, a) + c sqrt(ln N / N(s, a)); unvisited first;
- ``rave`` (Gelly and Silver 2007, 2011): Q* = (1 - beta) Q + beta Q~ with the all-moves-as-
  first value Q~(s, a), the mean value of simulations through s in which the player to move
  at s played a at any later time, and beta = sqrt(k / (3 N(s, a) + k)), plus the UCT term;
- ``puct`` (Silver et al. 2017): Q(s, a) + c P(s, a) sqrt(N) / (1 + N(s, a)), P from the
  evaluator's priors (uniform when it has none).

The search plays moves on a copy of the root state, so it knows nothing of the game but the
:class:`~deepkata.search.game.Game` interface; the move it recommends is the most visited child.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit

from deepkata.search.game import Game, Playout, value_for

Rule = Literal["uct", "rave", "puct"]


# --- the selection scores ---------------------------------------------------------------------------
# Compiled by numba: they run once per node on every simulation's path.


@njit(cache=True)
def uct_scores(q: np.ndarray, n: np.ndarray, parent_n: float, c: float) -> np.ndarray:
    """Q + c sqrt(ln N / n) per child; +inf for unvisited children (n = 0)."""
    log_n = math.log(max(parent_n, 1.0))
    scores = np.empty(len(q))
    for i in range(len(q)):
        # Q(s, a) + c sqrt(ln N(s) / N(s, a))
        scores[i] = q[i] + c * math.sqrt(log_n / n[i]) if n[i] > 0 else np.inf
    return scores


@njit(cache=True)
def puct_scores(q: np.ndarray, n: np.ndarray, priors: np.ndarray, parent_n: float, c: float) -> np.ndarray:
    """Q + c P sqrt(N) / (1 + n) per child; an unvisited child's Q counts as 0."""
    sqrt_n = math.sqrt(parent_n)
    scores = np.empty(len(q))
    for i in range(len(q)):
        # Q(s, a) + c_puct P(s, a) sqrt(N(s)) / (1 + N(s, a))
        scores[i] = q[i] + c * priors[i] * sqrt_n / (1.0 + n[i])
    return scores


@njit(cache=True)
def rave_beta(n: np.ndarray, k: float) -> np.ndarray:
    """The weight of the AMAF value: beta = sqrt(k / (3 n + k)), 1 for n = 0, -> 0 as n grows."""
    return np.sqrt(k / (3.0 * n + k))


@njit(cache=True)
def rave_scores(
    q: np.ndarray, n: np.ndarray, amaf_q: np.ndarray, amaf_n: np.ndarray, parent_n: float, c: float, k: float
) -> np.ndarray:
    """(1 - beta) Q + beta Q~ + c sqrt(ln(N + 1) / (n + 1)); +inf for a child with no visit of either kind."""
    beta = rave_beta(n, k)
    log_n = math.log(max(parent_n, 1.0) + 1.0)
    scores = np.empty(len(q))
    for i in range(len(q)):
        if n[i] == 0 and amaf_n[i] == 0:
            scores[i] = np.inf
            continue
        # Q* = (1 - beta) Q + beta Q~, with Q* = Q when there is no AMAF sample
        mixed = (1.0 - beta[i]) * q[i] + beta[i] * amaf_q[i] if amaf_n[i] > 0 else q[i]
        # n + 1 in the exploration term, so that a child known only through AMAF is not forced first
        scores[i] = mixed + c * math.sqrt(log_n / (n[i] + 1.0))
    return scores


@njit(cache=True)
def argmax_random_ties(scores: np.ndarray, u: float) -> int:
    """The index of the highest score; among equal highest, the one that ``u`` in [0, 1) picks."""
    best = scores.max()
    ties = 0
    for i in range(len(scores)):
        if scores[i] == best:
            ties += 1
    pick = min(int(u * ties), ties - 1)
    for i in range(len(scores)):
        if scores[i] == best:
            if pick == 0:
                return i
            pick -= 1
    return -1


# --- evaluators --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """What an evaluator says of a position."""

    value: float  # v in [-1, 1] for the player to move there
    priors: np.ndarray | None = None  # (num_actions,) probabilities over all actions, or None
    playout: Playout | None = None  # the rollout the value came from, for RAVE


class Evaluator(ABC):
    """Gives a leaf of the search its value (and priors): rollouts here, networks later."""

    @abstractmethod
    def evaluate(self, state: Game, rng: np.random.Generator) -> Evaluation: ...


class RolloutEvaluator(Evaluator):
    """The value of one light random playout: +1 if the player to move wins it, -1 if not."""

    def evaluate(self, state: Game, rng: np.random.Generator) -> Evaluation:
        playout = state.rollout(rng)
        return Evaluation(value_for(playout.outcome, state.to_play), None, playout)


# --- the tree ------------------------------------------------------------------------------------------


class Node:
    """A position in the tree: its edges' statistics, one slot per legal action once expanded."""

    __slots__ = ("to_play", "terminal", "visits", "priors", "actions", "index", "n", "w", "q", "amaf_n", "amaf_q", "children")

    def __init__(self, state: Game) -> None:
        self.to_play = state.to_play
        self.terminal = state.is_over()
        self.visits = 0  # simulations that reached this node
        self.priors: np.ndarray | None = None  # (num_actions,) from the evaluator, if it gave any
        self.actions: np.ndarray | None = None  # the actions searched, set on expansion
        self.children: list[Node | None] = []

    @property
    def expanded(self) -> bool:
        return self.actions is not None

    def expand(self, state: Game, with_amaf: bool) -> None:
        self.actions = state.search_actions()
        k = len(self.actions)
        self.n = np.zeros(k)  # N(s, a)
        self.w = np.zeros(k)  # W(s, a), for the player to move at s
        self.q = np.zeros(k)  # Q(s, a) = W(s, a) / N(s, a), 0 while unvisited
        self.children = [None] * k
        if with_amaf:
            self.index = np.full(state.num_actions, -1, dtype=np.int64)  # action -> child slot
            self.index[self.actions] = np.arange(k)
            self.amaf_n = np.zeros(k)  # simulations through s in which the mover at s played a later
            self.amaf_q = np.zeros(k)  # their mean value Q~(s, a)


@dataclass(frozen=True)
class SearchConfig:
    rule: Rule = "uct"  # selection rule: uct, rave or puct
    c: float = 1.0  # exploration constant (values are in [-1, 1])
    rave_k: float = 1000.0  # RAVE equivalence parameter k: beta = sqrt(k / (3 n + k))
    expand_after: int = 1  # visits of a node before it grows children
    playouts: int | None = 1000  # simulations per search; None: until the time runs out
    seconds: float | None = None  # wall-clock budget per search; None: no limit

    def __post_init__(self) -> None:
        if self.playouts is None and self.seconds is None:
            raise ValueError("a search needs a budget: playouts, seconds or both")
        if self.expand_after < 1:
            raise ValueError("expand_after must be >= 1")


@dataclass(frozen=True)
class SearchResult:
    """The root's edges after a search."""

    actions: np.ndarray  # (k,) the root's actions (the game's search_actions)
    visits: np.ndarray  # (k,) N(root, a)
    q: np.ndarray  # (k,) Q(root, a) for the player to move, 0 where unvisited
    playouts: int
    seconds: float

    @property
    def best(self) -> int:
        """The index of the most visited action; ties go to the higher Q."""
        return int(np.lexsort((self.q, self.visits))[-1])

    @property
    def action(self) -> int:
        return int(self.actions[self.best])

    @property
    def value(self) -> float:
        """Q of the recommended action: the expected outcome for the player to move, in [-1, 1]."""
        return float(self.q[self.best])

    def policy(self, num_actions: int) -> np.ndarray:
        """Visit counts as a distribution over all actions: AlphaGo Zero's search policy pi."""
        pi = np.zeros(num_actions)
        pi[self.actions] = self.visits / max(self.visits.sum(), 1.0)
        return pi


class MCTS:
    """A Monte Carlo tree search that plays through the :class:`Game` interface only."""

    def __init__(self, config: SearchConfig, evaluator: Evaluator | None = None) -> None:
        self.config = config
        self.evaluator = evaluator or RolloutEvaluator()
        self.root: Node | None = None  # the tree of the last search, for inspection

    def search(
        self, state: Game, rng: np.random.Generator, *, playouts: int | None = None, seconds: float | None = None
    ) -> SearchResult:
        """Run simulations from ``state`` until the budget (the config's unless given) is spent."""
        if state.is_over():
            raise ValueError("cannot search a finished game")
        playouts = playouts if playouts is not None else self.config.playouts
        seconds = seconds if seconds is not None else self.config.seconds
        start = time.perf_counter()
        deadline = math.inf if seconds is None else start + seconds
        root = self.root = Node(state)
        if self.config.rule == "puct":  # the root's priors, as AlphaGo Zero evaluates the root first
            root.priors = self.evaluator.evaluate(state, rng).priors
        root.expand(state, self.config.rule == "rave")
        done = 0
        while (playouts is None or done < playouts) and (done == 0 or time.perf_counter() < deadline):
            self._simulate(root, state.copy(), rng)
            done += 1
        return SearchResult(root.actions.copy(), root.n.copy(), root.q.copy(), done, time.perf_counter() - start)

    def _simulate(self, root: Node, state: Game, rng: np.random.Generator) -> None:
        cfg = self.config
        path: list[tuple[Node, int]] = []  # (node, child slot) of each edge taken
        moves: list[int] = []  # the actions along the path
        node = root
        while not node.terminal and (node.expanded or node.visits >= cfg.expand_after):
            if not node.expanded:
                node.expand(state, cfg.rule == "rave")
            slot = self._select(node, rng)
            action = int(node.actions[slot])
            state.play(action)
            path.append((node, slot))
            moves.append(action)
            child = node.children[slot]
            if child is None:
                child = node.children[slot] = Node(state)
            node = child
        if node.terminal:
            evaluation = Evaluation(value_for(state.outcome(), state.to_play))
        else:
            evaluation = self.evaluator.evaluate(state, rng)
            if evaluation.priors is not None and node.priors is None:
                node.priors = evaluation.priors
        self._backup(path, node, evaluation, moves, state)

    def _select(self, node: Node, rng: np.random.Generator) -> int:
        cfg = self.config
        parent_n = float(node.visits)
        if cfg.rule == "uct":
            scores = uct_scores(node.q, node.n, parent_n, cfg.c)
        elif cfg.rule == "puct":
            scores = puct_scores(node.q, node.n, self._priors(node), parent_n, cfg.c)
        else:
            scores = rave_scores(node.q, node.n, node.amaf_q, node.amaf_n, parent_n, cfg.c, cfg.rave_k)
        return argmax_random_ties(scores, rng.random())

    @staticmethod
    def _priors(node: Node) -> np.ndarray:
        if node.priors is None:
            return np.full(len(node.actions), 1.0 / len(node.actions))
        p = node.priors[node.actions]
        total = p.sum()
        return p / total if total > 0 else np.full(len(p), 1.0 / len(p))

    def _backup(self, path: list[tuple[Node, int]], leaf: Node, evaluation: Evaluation, moves: list[int], state: Game) -> None:
        v = evaluation.value  # for leaf.to_play
        leaf.visits += 1
        for node, slot in path:
            node.visits += 1
            node.n[slot] += 1
            node.w[slot] += v if node.to_play == leaf.to_play else -v
            node.q[slot] = node.w[slot] / node.n[slot]
        if self.config.rule == "rave":
            self._backup_amaf(path, leaf, v, moves, evaluation.playout, state)

    @staticmethod
    def _backup_amaf(
        path: list[tuple[Node, int]], leaf: Node, v: float, moves: list[int], playout: Playout | None, state: Game
    ) -> None:
        # the whole simulation as (player, action): the tree's moves, then the playout's
        players = np.array([node.to_play for node, _ in path], dtype=np.int64)
        actions = np.array(moves, dtype=np.int64)
        if playout is not None:
            players = np.concatenate([players, playout.players])
            actions = np.concatenate([actions, playout.actions])
        skip = state.pass_action if state.pass_action is not None else -1
        for depth, (node, _) in enumerate(path):
            value = v if node.to_play == leaf.to_play else -v
            amaf_update(node.index, node.amaf_n, node.amaf_q, actions, players, depth, node.to_play, value, skip)


@njit(cache=True)
def amaf_update(
    index: np.ndarray, amaf_n: np.ndarray, amaf_q: np.ndarray, actions: np.ndarray, players: np.ndarray,
    start: int, player: int, value: float, skip: int,
) -> None:  # fmt: skip
    """Add ``value`` to Q~(s, a) of every action a that ``player`` played from ``start`` on, once each."""
    seen = np.zeros(len(index), dtype=np.bool_)
    for t in range(start, len(actions)):
        a = actions[t]
        if players[t] != player or a == skip or seen[a]:
            continue
        seen[a] = True
        slot = index[a]
        if slot >= 0:
            amaf_n[slot] += 1.0
            # running mean: Q~ <- Q~ + (v - Q~) / n~
            amaf_q[slot] += (value - amaf_q[slot]) / amaf_n[slot]

"""AlphaGo's players: the raw policy network, and the search that combines the networks.

:class:`PolicyPlayer` plays the move its policy network rates most probable among the legal
ones, from the network's probabilities averaged over the eight board symmetries (``symmetric``)
or from the position as it stands: AlphaGo's "policy network alone" entry of its strength table,
with no search at all. It passes when the network rates the pass highest (the networks learn
from games that end by two passes).

:class:`AlphaGoPlayer` is AlphaGo's (Lee) search (Silver et al. 2016, Methods), on one machine:

- **selection** by PUCT: a_t = argmax Q(s, a) + c P(s, a) sqrt(N(s)) / (1 + N(s, a)), the prior
  P(s, a) from the SL policy network;
- **expansion** of a leaf on its first evaluation, over the moves a search considers (legal, not
  filling one's own eye; the pass once the opponent has passed);
- **evaluation** of a leaf s_L by V(s_L) = (1 - λ) v(s_L) + λ z_L: the value network's v, and the
  outcome z_L of one playout to the end with the fast rollout policy (``mix`` = λ; 0.5 in AlphaGo);
- **batching**: ``batch`` leaves are chosen one after the other with a *virtual loss* on their
  paths (each visit counts as ``virtual_loss`` lost games until it is backed up, AlphaGo's device
  for keeping parallel simulations apart), then their priors and values come from one forward
  pass of each network;
- **backup** of V along the path, seen from each mover; the move played is the most visited;
- **tree reuse**: the subtree under the moves played since the last search is kept;
- a **budget** of simulations or seconds, the shorter of its own and the GTP clock's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepkata.core.errors import UserError
from deepkata.go.board import GoState
from deepkata.go.features import legal_mask, planes
from deepkata.go.nets import PolicyNet, ValueNet, load_network
from deepkata.go.players import Decision, Player
from deepkata.go.policy_training import policy_probabilities
from deepkata.go.rollout import last_point, load_rollout, playout_with_policy
from deepkata.search.game import Game
from deepkata.search.mcts import puct_scores

__all__ = ["AlphaGoConfig", "AlphaGoPlayer", "PolicyPlayer", "ValuePlayer", "find_weights"]


KATAS = {"policy.pt": "alphago-sl", "rollout.pt": "alphago-rollout", "value.pt": "alphago-value"}


def find_weights(where: Path | Sequence[Path], name: str, *, required: bool = True) -> Path | None:
    """The file ``name`` in the first of the folders ``where`` that holds it (a file given is
    taken as it is); a one-line error if none does and it is ``required``."""
    if isinstance(where, Path) and where.is_file():
        return where  # one file given: it is the one meant, whatever its name
    places = [where] if isinstance(where, Path) else list(where)
    for place in places:
        path = place / name if place.is_dir() else place
        if path.is_file() and path.name == name:
            return path
    if required:
        shown = ", ".join(str(p) for p in places) or "(none given)"
        raise UserError(f"--weights {shown}: no {name} there (train one: deepkata run {KATAS.get(name, 'alphago-sl')})")
    return None


class PolicyPlayer(Player):
    name = "policy"

    def __init__(self, net: PolicyNet, *, symmetric: bool = True) -> None:
        self.net, self.symmetric = net.eval(), symmetric

    @classmethod
    def load(cls, weights: Path, *, symmetric: bool = True) -> PolicyPlayer:
        net = load_network(find_weights(weights, "policy.pt"), "policy")  # type: ignore[arg-type]
        assert isinstance(net, PolicyNet)
        return cls(net, symmetric=symmetric)

    def probabilities(self, state: GoState) -> np.ndarray:
        """p(a | s) over the size^2 points and the pass, 0 on illegal moves."""
        if state.size != self.net.cfg.size:
            raise UserError(f"the policy network plays {self.net.cfg.size}x{self.net.cfg.size}, not {state.size}x{state.size}")
        x = torch.from_numpy(planes(state))[None]
        with torch.no_grad():
            p = policy_probabilities(self.net, x, torch.from_numpy(legal_mask(state))[None], symmetric=self.symmetric)
        return p[0].numpy()

    def choose(self, state: Game, seconds: float | None = None) -> Decision:
        assert isinstance(state, GoState)
        p = self.probabilities(state)
        action = int(np.argmax(p))
        return Decision(action, {"probability": float(p[action])})


class ValuePlayer(Player):
    """AlphaGo's "value network alone" entry: one ply, the move whose position the value network
    rates best for the mover (its value for the opponent, negated); the pass only when nothing else is sensible."""

    name = "value"

    def __init__(self, net: ValueNet) -> None:
        self.net = net.eval()

    @classmethod
    def load(cls, weights: Path | Sequence[Path]) -> ValuePlayer:
        net = load_network(find_weights(weights, "value.pt"), "value")  # type: ignore[arg-type]
        assert isinstance(net, ValueNet)
        return cls(net)

    def choose(self, state: Game, seconds: float | None = None) -> Decision:
        assert isinstance(state, GoState)
        if state.size != self.net.cfg.size:
            raise UserError(f"the value network plays {self.net.cfg.size}x{self.net.cfg.size}, not {state.size}x{state.size}")
        actions = state.search_actions()
        after = []
        for action in actions:
            child = state.copy()
            child.play(int(action))
            after.append(planes(child))
        with torch.no_grad():
            v = -self.net(torch.from_numpy(np.stack(after))).numpy()  # for the mover: minus the opponent's value
        best = int(np.argmax(v))
        return Decision(int(actions[best]), {"value": float(v[best])})


@dataclass(frozen=True)
class AlphaGoConfig:
    playouts: int | None = 800  # simulations per move; None: until the time runs out
    seconds: float | None = None  # seconds per move; None: no limit but the clock's
    c_puct: float = 5.0  # AlphaGo's exploration constant
    mix: float = 0.5  # λ: the rollout's share of a leaf's value (1 without a value network)
    batch: int = 8  # leaves evaluated together
    virtual_loss: float = 3.0  # visits counted as losses while a leaf waits for its value
    resign_below: float = 0.0  # resign when the best move's win rate (1 + Q) / 2 falls below

    def __post_init__(self) -> None:
        if self.playouts is None and self.seconds is None:
            raise UserError("the AlphaGo search needs a budget: --playouts, --seconds or both")
        if not 0 <= self.mix <= 1:
            raise UserError(f"--mix must be within 0 and 1 (λ), got {self.mix}")
        if self.batch < 1 or (self.playouts is not None and self.playouts < 1):
            raise UserError("--playouts and the batch must be at least 1")


class _Node:
    """A position of the tree: its moves, their priors and statistics, once expanded."""

    __slots__ = ("actions", "children", "n", "priors", "to_play", "visits", "w")

    def __init__(self, to_play: int) -> None:
        self.to_play = to_play
        self.visits = 0.0
        self.actions: np.ndarray | None = None
        self.children: dict[int, _Node] = {}

    def expand(self, actions: np.ndarray, priors: np.ndarray) -> None:
        self.actions = actions
        p = priors[actions]
        total = p.sum()
        self.priors = p / total if total > 0 else np.full(len(actions), 1.0 / len(actions))
        self.n = np.zeros(len(actions))
        self.w = np.zeros(len(actions))  # for the player to move here

    def q(self) -> np.ndarray:
        return np.divide(self.w, self.n, out=np.zeros_like(self.w), where=self.n > 0)


class AlphaGoPlayer(Player):
    name = "alphago"

    def __init__(self, policy: PolicyNet, config: AlphaGoConfig, *, value: ValueNet | None = None,
                 rollout: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0) -> None:  # fmt: skip
        self.policy, self.value, self.rollout, self.config = policy.eval(), value.eval() if value is not None else None, rollout, config
        self.mix = config.mix if value is not None else 1.0  # without a value network only the rollouts judge
        self.rng = np.random.default_rng(seed)
        self.root: _Node | None = None
        self.root_moves: list[tuple[int, int]] = []  # the game's moves at the root

    @classmethod
    def load(cls, weights: Sequence[Path], config: AlphaGoConfig, *, seed: int = 0) -> AlphaGoPlayer:
        policy = load_network(find_weights(weights, "policy.pt"), "policy")  # type: ignore[arg-type]
        value_path, rollout_path = find_weights(weights, "value.pt", required=False), find_weights(weights, "rollout.pt", required=False)
        value = load_network(value_path, "value") if value_path is not None else None
        if value is None and config.mix < 1:
            raise UserError(f"--mix {config.mix}: a leaf's value needs a value network (value.pt; train one: deepkata run alphago-value), or --mix 1")
        rollout = load_rollout(rollout_path) if rollout_path is not None else None
        return cls(policy, config, value=value, rollout=rollout, seed=seed)  # type: ignore[arg-type]

    # --- evaluation -------------------------------------------------------------------------------

    def _networks(self, states: list[GoState]) -> tuple[np.ndarray, np.ndarray]:
        """Priors (B, size^2 + 1) over the legal moves, and values (B,) for each mover (0 without a value network)."""
        x = torch.from_numpy(np.stack([planes(s) for s in states]))
        legal = np.stack([legal_mask(s) for s in states])
        with torch.no_grad():
            priors = self.policy(x, torch.from_numpy(legal)).softmax(1).numpy()
            values = self.value(x).numpy() if self.value is not None and self.mix < 1 else np.zeros(len(states), dtype=np.float32)
        return priors, values

    def _rollout(self, state: GoState) -> float:
        """One playout to the end; +1 if the player to move at the leaf wins it, -1 if not, 0 for a draw."""
        if self.rollout is None:
            z = state.rollout(self.rng).outcome
        else:
            s = state._s.copy()
            seed = np.array([self.rng.bit_generator.random_raw()], dtype=np.uint64)
            z, _ = playout_with_policy(s, state._zob, seed, state.komi, 3 * state.size * state.size, *self.rollout, last_point(state))
        return float(z) if state.to_play == 0 else -float(z)

    # --- the search -------------------------------------------------------------------------------

    def _reuse(self, state: GoState) -> _Node:
        """The subtree of the position reached since the last search, or a fresh root."""
        node = self.root
        if node is not None and state.moves[: len(self.root_moves)] == self.root_moves:
            for _, action in state.moves[len(self.root_moves) :]:
                node = node.children.get(action) if node is not None else None
            if node is not None and node.to_play == state.to_play:
                return node
        return _Node(state.to_play)

    def search(self, state: GoState, seconds: float | None = None) -> tuple[_Node, int, float]:
        cfg = self.config
        start = time.perf_counter()
        budget = cfg.seconds if seconds is None else (seconds if cfg.seconds is None else min(cfg.seconds, seconds))
        deadline = math.inf if budget is None else start + budget
        root = self._reuse(state)
        if root.actions is None:
            priors, _ = self._networks([state])
            root.expand(state.search_actions(), priors[0])
        done = 0
        while (cfg.playouts is None or done < cfg.playouts) and (done == 0 or time.perf_counter() < deadline):
            want = cfg.batch if cfg.playouts is None else min(cfg.batch, cfg.playouts - done)
            done += self._simulate_batch(root, state, want)
        self.root, self.root_moves = root, list(state.moves)
        return root, done, time.perf_counter() - start

    def _simulate_batch(self, root: _Node, state: GoState, count: int) -> int:
        vl = self.config.virtual_loss
        pending: list[tuple[list[tuple[_Node, int]], _Node, GoState]] = []
        finished = 0
        for _ in range(count):
            path: list[tuple[_Node, int]] = []
            node, position = root, state.copy()
            while node.actions is not None and not position.is_over():
                slot = int(np.argmax(puct_scores(node.q(), node.n, node.priors, max(node.visits, 1.0), self.config.c_puct)))
                action = int(node.actions[slot])
                position.play(action)
                path.append((node, slot))
                node.n[slot] += vl  # the virtual loss: visits that count as lost until backed up
                node.w[slot] -= vl
                node.visits += vl
                child = node.children.get(action)
                if child is None:
                    child = node.children[action] = _Node(position.to_play)
                node = child
            if position.is_over():
                z = position.outcome()
                self._backup(path, node, z if node.to_play == 0 else -z)
                finished += 1
            elif any(node is leaf for _, leaf, _ in pending):
                self._backup(path, None, 0.0)  # the same leaf twice in one batch: undo the walk
            else:
                pending.append((path, node, position))
        if pending:
            priors, values = self._networks([p for _, _, p in pending])
            for (path, leaf, position), prior, v in zip(pending, priors, values, strict=True):
                leaf.expand(position.search_actions(), prior)
                z = self._rollout(position) if self.mix > 0 else 0.0
                self._backup(path, leaf, (1 - self.mix) * float(v) + self.mix * z)
        return finished + len(pending)

    def _backup(self, path: list[tuple[_Node, int]], leaf: _Node | None, value: float) -> None:
        """Undo the virtual loss on ``path``; with a leaf, add one visit of ``value`` (for the leaf's mover)."""
        vl = self.config.virtual_loss
        if leaf is not None:
            leaf.visits += 1
        for node, slot in path:
            node.n[slot] -= vl
            node.w[slot] += vl
            node.visits -= vl
            if leaf is not None:
                node.n[slot] += 1
                node.w[slot] += value if node.to_play == leaf.to_play else -value
                node.visits += 1

    def choose(self, state: Game, seconds: float | None = None) -> Decision:
        assert isinstance(state, GoState)
        if state.size != self.policy.cfg.size:
            raise UserError(f"the policy network plays {self.policy.cfg.size}x{self.policy.cfg.size}, not {state.size}x{state.size}")
        root, done, spent = self.search(state, seconds)
        best = int(np.lexsort((root.q(), root.n))[-1])
        win_rate = (1.0 + float(root.q()[best])) / 2.0
        info = {"playouts": float(done), "seconds": spent, "playouts_per_s": done / max(spent, 1e-9), "win_rate": win_rate}
        if win_rate < self.config.resign_below:
            return Decision(None, info)
        return Decision(int(root.actions[best]), info)  # type: ignore[index]

"""Go on an N x N board: captures, suicide, positional superko, passes, Tromp-Taylor area scoring.

The rules are Tromp and Taylor's "concise rules of Go" (the logical rules computer Go uses, and
GNU Go's ``--chinese-rules`` area count for a game played to the end):

- a play puts a stone on an empty point, then removes every opposing group left without
  liberties, then the player's own group if it has none; that last case (suicide) is illegal
  here, as in Chinese and Japanese rules;
- positional superko: a play may not recreate any earlier position of the game;
- the game ends after two consecutive passes; a player's score is the number of points of
  their colour plus the empty points that reach only their colour; Black wins when
  score(B) - score(W) - komi > 0.

Representation (the "mailbox" board of GNU Go and Pachi). Points live on a padded
(N + 2) x (N + 2) grid, p = (y + 1) W + (x + 1) with W = N + 2, whose frame is BORDER, so
the four neighbours of p are p - 1, p + 1, p - W, p + W without bounds checks. Each group is
a circular list of its stones (``NEXT``) with a head stone (``HEAD``), and keeps *pseudo-
liberties*: one per (stone, empty neighbour) pair, with their count L, sum S and sum of
squares Q. A group is dead when L = 0 and in atari (one real liberty) exactly when every
pseudo-liberty is the same point, i.e. by Cauchy-Schwarz when S^2 = L Q; the point is S / L.
All three are updated in O(1) per neighbour on a play, so play and legality need no flood fill.
A Zobrist hash (Zobrist 1970) of the stones identifies a position for superko.

The kernels are compiled by numba and work on one int64 array ``s`` of shape (ROWS, W^2);
:class:`GoState` wraps it as a :class:`~deepkata.search.game.Game`. :func:`playout` plays a whole
random game inside the compiled code: the light rollout policy of Monte Carlo Go (Bruegmann
1993; Gelly et al. 2006), uniform over legal moves that do not fill the player's own eye.
Rollouts check simple ko, not superko (as fast engines do), and stop after 3 N^2 moves.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from deepkata.go.coords import MAX_SIZE, MIN_SIZE, gtp_vertex
from deepkata.search.game import Game, IllegalMove, Playout

EMPTY, BLACK, WHITE, BORDER = 0, 1, 2, 3

# rows of the state array s: (ROWS, W * W)
COLOR, HEAD, NEXT, GSIZE, LIBS, LSUM, LSQ, EMPTIES, EMPTY_POS, META = range(10)
ROWS = 10
# slots of the META row
M_WIDTH, M_NEMPTY, M_KO_POINT, M_KO_COLOR, M_HASH, M_TO_PLAY, M_PASSES = range(7)

# legality codes of _legality
LEGAL, OCCUPIED, SUICIDE, REPETITION, KO = range(5)
_REASONS = {OCCUPIED: "the point is occupied", SUICIDE: "suicide", REPETITION: "it repeats an earlier position (superko)", KO: "ko"}


# --- the compiled kernels ------------------------------------------------------------------------


@njit(cache=True)
def _add_empty(s, p):
    n = s[META, M_NEMPTY]
    s[EMPTIES, n] = p
    s[EMPTY_POS, p] = n
    s[META, M_NEMPTY] = n + 1


@njit(cache=True)
def _remove_empty(s, p):
    # move the last entry of the list into p's slot
    n = s[META, M_NEMPTY] - 1
    i = s[EMPTY_POS, p]
    last = s[EMPTIES, n]
    s[EMPTIES, i] = last
    s[EMPTY_POS, last] = i
    s[META, M_NEMPTY] = n


@njit(cache=True)
def _swap_empties(s, i, j):
    a, b = s[EMPTIES, i], s[EMPTIES, j]
    s[EMPTIES, i], s[EMPTIES, j] = b, a
    s[EMPTY_POS, a], s[EMPTY_POS, b] = j, i


@njit(cache=True)
def _add_liberty(s, h, p):
    s[LIBS, h] += 1
    s[LSUM, h] += p
    s[LSQ, h] += p * p


@njit(cache=True)
def _remove_liberty(s, h, p):
    s[LIBS, h] -= 1
    s[LSUM, h] -= p
    s[LSQ, h] -= p * p


@njit(cache=True)
def _in_atari(s, h):
    # one real liberty <=> all L pseudo-liberties equal <=> S^2 = L Q (Cauchy-Schwarz)
    return s[LIBS, h] > 0 and s[LSUM, h] * s[LSUM, h] == s[LIBS, h] * s[LSQ, h]


@njit(cache=True)
def _merge(s, a, b):
    """Join the groups headed by a and b; returns the head of the union (the larger's)."""
    if s[GSIZE, a] < s[GSIZE, b]:
        a, b = b, a
    q = b
    while True:  # relabel the smaller group's stones
        s[HEAD, q] = a
        q = s[NEXT, q]
        if q == b:
            break
    s[NEXT, a], s[NEXT, b] = s[NEXT, b], s[NEXT, a]  # splice the two circular lists
    s[GSIZE, a] += s[GSIZE, b]
    s[LIBS, a] += s[LIBS, b]
    s[LSUM, a] += s[LSUM, b]
    s[LSQ, a] += s[LSQ, b]
    return a


@njit(cache=True)
def _remove_group(s, h, zob):
    """Take the group headed by h off the board; its neighbours gain the liberties. Returns its size."""
    w = s[META, M_WIDTH]
    c = s[COLOR, h]
    q = h
    while True:
        s[COLOR, q] = EMPTY
        s[META, M_HASH] ^= zob[c, q]
        _add_empty(s, q)
        q = s[NEXT, q]
        if q == h:
            break
    while True:  # every stone now next to an emptied point gains it as a pseudo-liberty
        for d in (-1, 1, -w, w):
            r = q + d
            if s[COLOR, r] == BLACK or s[COLOR, r] == WHITE:
                _add_liberty(s, s[HEAD, r], q)
        q = s[NEXT, q]
        if q == h:
            break
    return s[GSIZE, h]


@njit(cache=True)
def _place(s, p, c, zob):
    """Put a stone of colour c on the empty point p and make the captures; no legality check.

    Updates liberties, hash and the simple-ko point; returns how many stones were captured.
    """
    w = s[META, M_WIDTH]
    opp = 3 - c
    _remove_empty(s, p)
    s[COLOR, p] = c
    s[HEAD, p] = p
    s[NEXT, p] = p
    s[GSIZE, p] = 1
    s[LIBS, p] = 0
    s[LSUM, p] = 0
    s[LSQ, p] = 0
    s[META, M_HASH] ^= zob[c, p]
    for d in (-1, 1, -w, w):
        q = p + d
        cq = s[COLOR, q]
        if cq == EMPTY:
            _add_liberty(s, p, q)
        elif cq == BLACK or cq == WHITE:
            _remove_liberty(s, s[HEAD, q], p)
    h = p
    for d in (-1, 1, -w, w):
        q = p + d
        if s[COLOR, q] == c and s[HEAD, q] != h:
            h = _merge(s, h, s[HEAD, q])
    captured = 0
    ko = -1
    for d in (-1, 1, -w, w):
        q = p + d
        if s[COLOR, q] == opp and s[LIBS, s[HEAD, q]] == 0:
            n = _remove_group(s, s[HEAD, q], zob)
            captured += n
            if n == 1:
                ko = q
    # simple ko: one stone taken by a lone stone that is left with that one liberty
    if captured == 1 and s[GSIZE, h] == 1 and s[LIBS, h] == 1:
        s[META, M_KO_POINT] = ko
        s[META, M_KO_COLOR] = opp
    else:
        s[META, M_KO_POINT] = -1
    return captured


@njit(cache=True)
def _hash_after(s, p, c, zob):
    """The position's hash after colour c plays at p (with its captures), without playing."""
    w = s[META, M_WIDTH]
    h = s[META, M_HASH] ^ zob[c, p]
    seen = np.full(4, -1, dtype=np.int64)
    k = 0
    for d in (-1, 1, -w, w):
        q = p + d
        if s[COLOR, q] == 3 - c and _in_atari(s, s[HEAD, q]):
            g = s[HEAD, q]
            if g == seen[0] or g == seen[1] or g == seen[2] or g == seen[3]:
                continue
            seen[k] = g
            k += 1
            r = g
            while True:
                h ^= zob[3 - c, r]
                r = s[NEXT, r]
                if r == g:
                    break
    return h


@njit(cache=True)
def _legality(s, p, c, zob, history, n_history, superko):
    """LEGAL, or why colour c may not play at p: OCCUPIED, SUICIDE, REPETITION (superko) or KO."""
    if s[COLOR, p] != EMPTY:
        return OCCUPIED
    w = s[META, M_WIDTH]
    lives = False
    for d in (-1, 1, -w, w):
        q = p + d
        cq = s[COLOR, q]
        if cq == EMPTY:
            lives = True  # a liberty of its own
        elif cq == c:
            if not _in_atari(s, s[HEAD, q]):
                lives = True  # joins a group with another liberty
        elif cq == 3 - c:
            if _in_atari(s, s[HEAD, q]):
                lives = True  # captures: p was that group's last liberty
    if not lives:
        return SUICIDE
    if superko:
        h = _hash_after(s, p, c, zob)
        for i in range(n_history):
            if history[i] == h:
                return REPETITION
    elif p == s[META, M_KO_POINT] and c == s[META, M_KO_COLOR]:
        return KO
    return LEGAL


@njit(cache=True)
def _is_own_eye(s, p, c):
    """Whether the empty point p is an eye of colour c for a random player (the classic rule).

    Every neighbour is c or the edge, and of the diagonal points at most one is the
    opponent's in the open board and none on the edge or in a corner.
    """
    w = s[META, M_WIDTH]
    for d in (-1, 1, -w, w):
        cq = s[COLOR, p + d]
        if cq != c and cq != BORDER:
            return False
    enemy = 0
    edge = 0
    for d in (-w - 1, -w + 1, w - 1, w + 1):
        cq = s[COLOR, p + d]
        if cq == 3 - c:
            enemy += 1
        elif cq == BORDER:
            edge = 1
    return enemy == 0 if edge else enemy <= 1


@njit(cache=True)
def _candidate_mask(s, c, zob, history, n_history, skip_eyes):
    """Over the W^2 points: legal for colour c (with superko), and not c's own eye if skip_eyes."""
    n = s.shape[1]
    mask = np.zeros(n, dtype=np.bool_)
    for i in range(s[META, M_NEMPTY]):
        p = s[EMPTIES, i]
        if skip_eyes and _is_own_eye(s, p, c):
            continue
        mask[p] = _legality(s, p, c, zob, history, n_history, True) == LEGAL
    return mask


@njit(cache=True)
def _owners(s):
    """Tromp-Taylor area over the W^2 points: BLACK or WHITE where a colour owns it, else EMPTY.

    A stone is owned by its colour; an empty region by the one colour it reaches, if only one.
    """
    w = s[META, M_WIDTH]
    n = s.shape[1]
    owner = np.zeros(n, dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n, dtype=np.int64)
    region = np.empty(n, dtype=np.int64)
    for p in range(n):
        cp = s[COLOR, p]
        if cp == BLACK or cp == WHITE:
            owner[p] = cp
            continue
        if cp != EMPTY or seen[p]:
            continue
        reaches = 0  # bit 1: reaches black, bit 2: reaches white
        top = 0
        size = 0
        stack[0] = p
        top = 1
        seen[p] = True
        while top > 0:
            top -= 1
            q = stack[top]
            region[size] = q
            size += 1
            for d in (-1, 1, -w, w):
                r = q + d
                cr = s[COLOR, r]
                if cr == EMPTY:
                    if not seen[r]:
                        seen[r] = True
                        stack[top] = r
                        top += 1
                elif cr == BLACK or cr == WHITE:
                    reaches |= cr
        if reaches == BLACK or reaches == WHITE:
            for i in range(size):
                owner[region[i]] = reaches
    return owner


@njit(cache=True)
def _area_difference(s):
    """Tromp-Taylor area of Black minus that of White."""
    owner = _owners(s)
    return np.sum(owner == BLACK) - np.sum(owner == WHITE)


@njit(cache=True)
def _next_random(rng):
    # splitmix64 (Steele, Lea and Flood 2014): a 64-bit state that advances by a constant
    z = rng[0] + np.uint64(0x9E3779B97F4A7C15)
    rng[0] = z
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _random_move(s, c, zob, rng, no_history):
    """A uniformly random point among c's legal (simple ko) non-eye-filling moves, or -1 to pass.

    Draws among the empty points; a point that will not do is swapped out of the range drawn
    from, so each draw is uniform over the points not yet rejected.
    """
    k = s[META, M_NEMPTY]
    while k > 0:
        i = np.int64(_next_random(rng) % np.uint64(k))
        p = s[EMPTIES, i]
        if not _is_own_eye(s, p, c) and _legality(s, p, c, zob, no_history, 0, False) == LEGAL:
            return p
        k -= 1
        _swap_empties(s, i, k)
    return -1


@njit(cache=True)
def playout(s, zob, rng, komi, max_moves, actions, players):
    """Play random moves on s (in place) until two passes or ``max_moves``; return (z, moves).

    Moves are written into ``actions`` as action indices y N + x (N^2 for a pass) and the
    mover, 0 for Black and 1 for White, into ``players``. z = sign(area(B) - area(W) - komi).
    """
    w = s[META, M_WIDTH]
    size = w - 2
    passes = s[META, M_PASSES]
    c = s[META, M_TO_PLAY]
    t = 0
    no_history = np.empty(0, dtype=np.int64)
    while passes < 2 and t < max_moves:
        p = _random_move(s, c, zob, rng, no_history)
        if p < 0:
            passes += 1
            s[META, M_KO_POINT] = -1
            actions[t] = size * size
        else:
            passes = 0
            _place(s, p, c, zob)
            actions[t] = (p // w - 1) * size + (p % w - 1)
        players[t] = c - 1
        t += 1
        c = 3 - c
    s[META, M_TO_PLAY] = c
    s[META, M_PASSES] = passes
    margin = _area_difference(s) - komi
    if margin > 0:
        return 1.0, t
    if margin < 0:
        return -1.0, t
    return 0.0, t


@njit(cache=True)
def _ownership(s, zob, rng, playouts, max_moves):
    """(2, W^2) counts of the playouts from s after which Black (row 0) or White (row 1) owns each point.

    Each playout starts from s as if no one had passed, Black moving first in even-numbered
    playouts and White in odd ones, and is scored by Tromp-Taylor area (:func:`_owners`).
    """
    counts = np.zeros((2, s.shape[1]), dtype=np.int64)
    actions = np.empty(max_moves, dtype=np.int64)
    players = np.empty(max_moves, dtype=np.int64)
    for i in range(playouts):
        t = s.copy()
        t[META, M_PASSES] = 0
        t[META, M_TO_PLAY] = BLACK if i % 2 == 0 else WHITE
        playout(t, zob, rng, 0.0, max_moves, actions, players)
        owner = _owners(t)
        for p in range(s.shape[1]):
            if owner[p] == BLACK:
                counts[0, p] += 1
            elif owner[p] == WHITE:
                counts[1, p] += 1
    return counts


@njit(cache=True)
def _chain_liberties(s, h, mark, stamp):
    """The exact liberties of the chain headed by h: its distinct empty neighbours (marks them with stamp)."""
    w = s[META, M_WIDTH]
    n = 0
    q = h
    while True:
        for d in (-1, 1, -w, w):
            r = q + d
            if s[COLOR, r] == EMPTY and mark[r] != stamp:
                mark[r] = stamp
                n += 1
        q = s[NEXT, q]
        if q == h:
            break
    return n


@njit(cache=True)
def _tactics(s, c, zob, history, n_history, out):
    """Per point (out: (5, W^2) int64, zeroed): the liberties of the chain standing there; for an
    empty point where colour c may play, the stones that play captures, the liberties of c's
    chain after it, the size of that chain if it is left in atari (self-atari), and whether the
    play is sensible (legal, not filling c's own eye)."""
    n = s.shape[1]
    mark = np.zeros(n, dtype=np.int64)
    stamp = 0
    for p in range(n):
        if (s[COLOR, p] == BLACK or s[COLOR, p] == WHITE) and out[0, s[HEAD, p]] == 0:
            stamp += 1
            out[0, s[HEAD, p]] = _chain_liberties(s, s[HEAD, p], mark, stamp)
    for p in range(n):
        if s[COLOR, p] == BLACK or s[COLOR, p] == WHITE:
            out[0, p] = out[0, s[HEAD, p]]
    for i in range(s[META, M_NEMPTY]):
        p = s[EMPTIES, i]
        if _legality(s, p, c, zob, history, n_history, True) != LEGAL:
            continue
        t = s.copy()
        out[1, p] = _place(t, p, c, zob)
        h = t[HEAD, p]
        stamp += 1
        libs = _chain_liberties(t, h, mark, stamp)
        out[2, p] = libs
        if libs == 1:
            out[3, p] = t[GSIZE, h]
        out[4, p] = 0 if _is_own_eye(s, p, c) else 1
    return out


# --- the position as a Game --------------------------------------------------------------------------


@lru_cache(maxsize=None)
def zobrist_keys(size: int) -> np.ndarray:
    """Random 64-bit keys, one per (colour, point): (3, W^2) int64, the same in every process."""
    w = size + 2
    keys = np.random.default_rng(20240 + size).integers(-(2**63), 2**63 - 1, size=(3, w * w), dtype=np.int64)
    keys[EMPTY] = 0
    return keys


@lru_cache(maxsize=None)
def _empty_state(size: int) -> np.ndarray:
    w = size + 2
    s = np.zeros((ROWS, w * w), dtype=np.int64)
    s[COLOR] = BORDER
    for y in range(size):
        for x in range(size):
            p = (y + 1) * w + (x + 1)
            s[COLOR, p] = EMPTY
            s[EMPTIES, s[META, M_NEMPTY]] = p
            s[EMPTY_POS, p] = s[META, M_NEMPTY]
            s[META, M_NEMPTY] += 1
    s[META, M_WIDTH] = w
    s[META, M_KO_POINT] = -1
    s[META, M_TO_PLAY] = BLACK
    s.flags.writeable = False
    return s


class GoState(Game):
    """A Go position with its history, under Tromp-Taylor rules with positional superko.

    Player 0 is Black, who moves first; actions are ``y * size + x`` (row y from the bottom,
    column x from the left) and ``size * size`` is the pass.
    """

    def __init__(self, size: int = 9, komi: float = 7.0) -> None:
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"board size must be {MIN_SIZE} to {MAX_SIZE}, got {size}")
        self.size = size
        self.komi = float(komi)
        self._s = _empty_state(size).copy()
        self._zob = zobrist_keys(size)
        self._history = np.zeros(2 * size * size + 8, dtype=np.int64)  # hashes of the positions so far
        self._n_history = 1  # the empty board, hash 0
        self.moves: list[tuple[int, int]] = []  # (player, action) in order
        w = size + 2
        self._point = np.array([(y + 1) * w + x + 1 for y in range(size) for x in range(size)], dtype=np.int64)
        self.pass_action = size * size

    # --- Game ------------------------------------------------------------------------------------

    @property
    def num_actions(self) -> int:
        return self.size * self.size + 1

    @property
    def to_play(self) -> int:
        return int(self._s[META, M_TO_PLAY]) - 1

    @property
    def passes(self) -> int:
        """Consecutive passes just played."""
        return int(self._s[META, M_PASSES])

    def is_over(self) -> bool:
        return self.passes >= 2

    def legal_actions(self) -> np.ndarray:
        if self.is_over():
            return np.empty(0, dtype=np.int64)
        return np.append(self._actions_where(self._mask(self.to_play, skip_eyes=False)), self.pass_action)

    def sensible_actions(self) -> np.ndarray:
        """Legal moves that do not fill the mover's own eye; the pass only when there are none."""
        moves = self._actions_where(self._mask(self.to_play, skip_eyes=True))
        return moves if len(moves) else np.array([self.pass_action], dtype=np.int64)

    def search_actions(self) -> np.ndarray:
        """Legal moves that do not fill the mover's own eye; the pass only once the opponent has
        passed, or when no other move is left.

        Under area scoring, playing inside one's own territory costs nothing, so holding back
        the pass until the opponent passes loses nothing but keeps a search with few playouts
        from passing in mid-game, when every move looks alike to it.
        """
        if self.is_over():
            return np.empty(0, dtype=np.int64)
        moves = self._actions_where(self._mask(self.to_play, skip_eyes=True))
        if self.passes > 0 or len(moves) == 0:
            moves = np.append(moves, self.pass_action)
        return moves

    def play(self, action: int) -> None:
        self.play_as(self.to_play, action)

    def outcome(self) -> float:
        return float(np.sign(self.score()))

    def copy(self) -> GoState:
        other = GoState.__new__(GoState)
        other.__dict__.update(self.__dict__)
        other._s = self._s.copy()
        other._history = self._history.copy()
        other.moves = list(self.moves)
        return other

    def rollout(self, rng: np.random.Generator) -> Playout:
        s = self._s.copy()
        limit = 3 * self.size * self.size
        actions = np.empty(limit, dtype=np.int64)
        players = np.empty(limit, dtype=np.int64)
        seed = np.array([rng.bit_generator.random_raw()], dtype=np.uint64)
        z, n = playout(s, self._zob, seed, self.komi, limit, actions, players)
        return Playout(z, actions[:n], players[:n])

    # --- Go ----------------------------------------------------------------------------------------

    def play_as(self, player: int, action: int) -> None:
        """Play ``action`` for ``player`` (0 Black, 1 White), who then hands the move over.

        GTP's ``play`` may name either colour; the other colour is to move after it.
        """
        if not 0 <= action <= self.pass_action:
            raise IllegalMove(f"action {action} is not on the {self.size}x{self.size} board")
        s = self._s
        color = player + 1
        if action == self.pass_action:
            s[META, M_PASSES] += 1
            s[META, M_KO_POINT] = -1
        else:
            p = self._point[action]
            why = _legality(s, p, color, self._zob, self._history, self._n_history, True)
            if why != LEGAL:
                raise IllegalMove(f"{gtp_vertex(action, self.size)} is illegal for {'black' if player == 0 else 'white'}: {_REASONS[why]}")
            _place(s, p, color, self._zob)
            s[META, M_PASSES] = 0
            self._remember_position()
        s[META, M_TO_PLAY] = 3 - color
        self.moves.append((player, action))

    def set_to_play(self, player: int) -> None:
        """Give the move to ``player`` (GTP lets a controller ask either colour to move)."""
        self._s[META, M_TO_PLAY] = player + 1

    def is_legal(self, player: int, action: int) -> bool:
        if action == self.pass_action:
            return True
        if not 0 <= action < self.pass_action:
            return False
        p = self._point[action]
        return _legality(self._s, p, player + 1, self._zob, self._history, self._n_history, True) == LEGAL

    def legal_points(self, player: int) -> np.ndarray:
        """The points (not the pass) where ``player`` may play, whoever is to move."""
        return self._actions_where(self._mask(player, skip_eyes=False))

    def setup(self, black: list[int], white: list[int], to_play: int | None = None) -> None:
        """Put stones on the board (SGF AB/AW, handicap); ValueError if one would have no liberty."""
        for player, points in ((0, black), (1, white)):
            for action in points:
                if not 0 <= action < self.pass_action or self._s[COLOR, self._point[action]] != EMPTY:
                    raise ValueError(f"setup stone at {gtp_vertex(action, self.size)}: point is off the board or taken")
                captured = _place(self._s, self._point[action], player + 1, self._zob)
                if captured:
                    raise ValueError(f"setup stone at {gtp_vertex(action, self.size)} leaves a group without liberties")
        for p in self._point:
            if self._s[COLOR, p] in (BLACK, WHITE) and self._s[LIBS, self._s[HEAD, p]] == 0:
                raise ValueError(f"setup leaves the group at {gtp_vertex(int(np.flatnonzero(self._point == p)[0]), self.size)} without liberties")
        self._s[META, M_KO_POINT] = -1
        if to_play is not None:
            self._s[META, M_TO_PLAY] = to_play + 1
        self._remember_position()

    def tactics(self, player: int) -> np.ndarray:
        """(5, size, size) int64 of what AlphaGo's input planes count, for ``player`` to move:

        0. the liberties of the chain on each point (0 where empty);
        1. the opposing stones a play there would capture;
        2. the liberties of the player's chain after that play (0 where it is illegal);
        3. the size of that chain when the play leaves it in atari (self-atari), else 0;
        4. 1 where the play is legal and does not fill the player's own eye (sensible).
        """
        out = np.zeros((5, self._s.shape[1]), dtype=np.int64)
        _tactics(self._s, player + 1, self._zob, self._history, self._n_history, out)
        return out[:, self._point].reshape(5, self.size, self.size)

    def stones(self) -> np.ndarray:
        """(size, size) int8, indexed [y, x] with y = 0 the bottom row: 0 empty, 1 black, 2 white."""
        return self._s[COLOR, self._point].reshape(self.size, self.size).astype(np.int8)

    def area(self) -> np.ndarray:
        """(size, size) int8: the Tromp-Taylor owner of each point, 0 none, 1 black, 2 white."""
        return _owners(self._s)[self._point].reshape(self.size, self.size).astype(np.int8)

    def score(self) -> float:
        """area(Black) - area(White) - komi: positive when Black leads."""
        return float(_area_difference(self._s)) - self.komi

    def dame(self) -> int:
        """Empty points that reach both colours or neither (neutral under area scoring)."""
        return int(np.sum((self.stones() == EMPTY) & (self.area() == EMPTY)))

    def ownership(self, rng: np.random.Generator, playouts: int = 400) -> np.ndarray:
        """(2, size, size) float: the share of random playouts from here after which Black ([0])
        or White ([1]) owns each point by area, both colours moving first equally often.

        The Monte Carlo estimate of territory and of life and death (Bouzy and Helmstetter
        2003; the ``final_status_list`` of Monte Carlo engines): a stone whose point ends owned
        by the opponent in most playouts is dead.
        """
        seed = np.array([rng.bit_generator.random_raw()], dtype=np.uint64)
        counts = _ownership(self._s, self._zob, seed, playouts, 3 * self.size * self.size)
        return counts[:, self._point].reshape(2, self.size, self.size) / playouts

    def dead_stones(self, rng: np.random.Generator, playouts: int = 400) -> list[int]:
        """The stones (actions, ascending) of every chain that the opponent owns in most playouts.

        A chain is judged as a whole, by the mean over its stones of the opponent's share.
        """
        share = self.ownership(rng, playouts).reshape(2, -1)  # (2, size^2)
        colour = self._s[COLOR, self._point]  # (size^2,)
        head = self._s[HEAD, self._point]
        dead: list[int] = []
        for h in np.unique(head[(colour == BLACK) | (colour == WHITE)]):
            chain = np.flatnonzero((head == h) & (colour != EMPTY))
            opponent = 1 if colour[chain[0]] == BLACK else 0
            if share[opponent, chain].mean() > 0.5:
                dead.extend(int(a) for a in chain)
        return sorted(dead)

    def without(self, removed: list[int]) -> GoState:
        """This position with the stones at ``removed`` taken off (dead stones), as a new game
        without history; ValueError if one of those points holds no stone."""
        stones = self.stones().ravel()
        gone = set(removed)
        for action in gone:
            if not 0 <= action < self.pass_action or stones[action] == EMPTY:
                raise ValueError(f"no stone at {gtp_vertex(action, self.size) if 0 <= action < self.pass_action else action} to remove")
        other = GoState(self.size, self.komi)
        keep = [a for a in range(self.pass_action) if a not in gone]
        other.setup([a for a in keep if stones[a] == BLACK], [a for a in keep if stones[a] == WHITE], self.to_play)
        return other

    @property
    def hash(self) -> int:
        """Zobrist hash of the stones on the board."""
        return int(self._s[META, M_HASH])

    def _remember_position(self) -> None:
        if self._n_history == len(self._history):
            self._history = np.concatenate([self._history, np.zeros_like(self._history)])
        self._history[self._n_history] = self._s[META, M_HASH]
        self._n_history += 1

    def _mask(self, player: int, *, skip_eyes: bool) -> np.ndarray:
        return _candidate_mask(self._s, player + 1, self._zob, self._history, self._n_history, skip_eyes)

    def _actions_where(self, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask[self._point])

    def __str__(self) -> str:
        """The board as GTP's showboard draws it: row N at the top, X black, O white."""
        from deepkata.go.coords import GTP_COLUMNS

        stones = self.stones()
        columns = "   " + " ".join(GTP_COLUMNS[: self.size])
        rows = [columns]
        for y in range(self.size - 1, -1, -1):
            cells = " ".join(".XO"[v] for v in stones[y])
            rows.append(f"{y + 1:2d} {cells} {y + 1}")
        rows.append(columns)
        return "\n".join(rows)

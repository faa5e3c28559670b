"""A slow, obviously correct Go referee for the tests: flood fills, no incremental state.

Stones live in a dict {(x, y): 1 or 2}; every legality decision recomputes groups and
liberties from scratch, superko compares whole positions. The fast engine must agree with it
on every move of random games.
"""

from __future__ import annotations


class NaiveGo:
    def __init__(self, size: int, komi: float = 0.0) -> None:
        self.size = size
        self.komi = komi
        self.stones: dict[tuple[int, int], int] = {}
        self.seen = {frozenset()}

    def neighbours(self, p):
        x, y = p
        for q in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
            if 0 <= q[0] < self.size and 0 <= q[1] < self.size:
                yield q

    def group(self, stones, p):
        color = stones[p]
        todo, seen = [p], {p}
        while todo:
            q = todo.pop()
            for r in self.neighbours(q):
                if r not in seen and stones.get(r) == color:
                    seen.add(r)
                    todo.append(r)
        return seen

    def liberties(self, stones, group):
        return {r for q in group for r in self.neighbours(q) if r not in stones}

    def after(self, color, p):
        """The stones after ``color`` plays at p, or None if suicide or occupied."""
        if p in self.stones:
            return None
        stones = dict(self.stones)
        stones[p] = color
        for q in self.neighbours(p):
            if stones.get(q) == 3 - color:
                g = self.group(stones, q)
                if not self.liberties(stones, g):
                    for r in g:
                        del stones[r]
        if not self.liberties(stones, self.group(stones, p)):
            return None
        return stones

    def legal(self, color, p) -> bool:
        stones = self.after(color, p)
        return stones is not None and frozenset(stones.items()) not in self.seen

    def play(self, color, p) -> None:
        stones = self.after(color, p)
        assert stones is not None and frozenset(stones.items()) not in self.seen
        self.stones = stones
        self.seen.add(frozenset(stones.items()))

    def area(self):
        black = sum(1 for c in self.stones.values() if c == 1)
        white = sum(1 for c in self.stones.values() if c == 2)
        done = set()
        for x in range(self.size):
            for y in range(self.size):
                p = (x, y)
                if p in self.stones or p in done:
                    continue
                region, todo, reaches = {p}, [p], set()
                while todo:
                    q = todo.pop()
                    for r in self.neighbours(q):
                        if r in self.stones:
                            reaches.add(self.stones[r])
                        elif r not in region:
                            region.add(r)
                            todo.append(r)
                done |= region
                if reaches == {1}:
                    black += len(region)
                elif reaches == {2}:
                    white += len(region)
        return black, white


def chain_and_liberties(stones, y: int, x: int) -> tuple[set, set]:
    """Flood fill on an (N, N) array (0 empty): the chain on (y, x) and its distinct liberties."""
    n, colour = len(stones), stones[y, x]
    seen, todo, libs = {(y, x)}, [(y, x)], set()
    while todo:
        a, b = todo.pop()
        for c, d in ((a - 1, b), (a + 1, b), (a, b - 1), (a, b + 1)):
            if 0 <= c < n and 0 <= d < n:
                if stones[c, d] == 0:
                    libs.add((c, d))
                elif stones[c, d] == colour and (c, d) not in seen:
                    seen.add((c, d))
                    todo.append((c, d))
    return seen, libs


def random_game(size: int, moves: int, seed: int):
    """A GoState after ``moves`` uniformly random sensible moves."""
    import numpy as np

    from deepkata.go.board import GoState

    rng = np.random.default_rng(seed)
    state = GoState(size)
    for _ in range(moves):
        state.play(int(rng.choice(state.sensible_actions())))
    return state

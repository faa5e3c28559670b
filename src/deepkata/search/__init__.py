"""Game-agnostic search: the :class:`~deepkata.search.game.Game` interface, Monte Carlo tree
search (UCT, RAVE, PUCT) and tic-tac-toe, shared by Go, AlphaGo and AlphaGo Zero."""

"""Self-play of policy networks in lockstep, and the value network's training."""

from __future__ import annotations

import numpy as np
import torch

from deepkata.go.board import GoState
from deepkata.go.features import PLANES, planes
from deepkata.go.katas.alphago_value import ValueRecipe, ValueTrainer
from deepkata.go.nets import GoNetConfig, PolicyNet, ValueNet
from deepkata.go.selfplay import play_games


def _policy(seed: int) -> PolicyNet:
    torch.manual_seed(seed)
    return PolicyNet(GoNetConfig(size=5, filters=4, layers=2)).eval()


def test_games_are_the_same_however_they_are_batched_and_colours_alternate() -> None:
    a, b = _policy(0), _policy(1)
    one = play_games((a, b), 6, size=5, komi=3.0, seed=4, batch=6, random_move=8)
    other = play_games((a, b), 6, size=5, komi=3.0, seed=4, batch=4, random_move=8)
    assert [g.moves for g in one] == [g.moves for g in other] and [g.score for g in one] == [g.score for g in other]
    assert [g.black_is for g in one] == [0, 1, 0, 1, 0, 1]
    for g in one:
        assert g.state.is_over() or len(g.moves) >= 75
        assert (g.winner is None) == (g.score == 0) and (g.winner == 0) == (g.score > 0)
        assert g.outcome_for(0) == -g.outcome_for(1)


def test_the_sample_is_the_position_after_the_random_move() -> None:
    (game,) = play_games((_policy(0), _policy(0)), 1, size=5, komi=3.0, seed=9, random_move=6)
    assert 1 <= game.random_at <= 6 and game.sample is not None
    state = GoState(5, 3.0)
    for player, action in game.moves[: game.random_at]:
        state.play_as(player, action)
    np.testing.assert_array_equal(game.sample[0], planes(state).astype(np.uint8))
    assert game.sample[1] == state.to_play


def test_the_value_network_learns_who_leads_better_than_the_trivial_predictor() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((400, PLANES, 5, 5), dtype=np.uint8)
    own, opp = rng.random((400, 5, 5)) < rng.random((400, 1, 1)), rng.random((400, 5, 5)) < 0.4
    x[:, 0], x[:, 1], x[:, 3] = own & ~opp, opp, 1
    z = np.where(x[:, 0].sum((1, 2)) > x[:, 1].sum((1, 2)), 1.0, -1.0).astype(np.float32)
    torch.manual_seed(0)
    trainer = ValueTrainer(ValueNet(GoNetConfig(size=5, filters=8, layers=2, hidden=16)), ValueRecipe(epochs=8, batch=32, lr=3e-3),
                           x[:320], z[:320], x[320:], z[320:], torch.device("cpu"), seed=1)  # fmt: skip
    while not trainer.done:
        trainer.train_chunk()
    trivial = float(np.mean((z[:320].mean() - z[320:]) ** 2))
    assert trainer.history["val_mse"][-1] < 0.5 * trivial


def _rl_job(iterations: int = 3):
    from deepkata.go.katas.alphago_rl import AlphaGoRLConfig, RLJob

    cfg = AlphaGoRLConfig(size=5, komi=3.0, iterations=iterations, games=6, snapshot_every=2, lr=0.05)
    return RLJob(_policy(3), cfg, seed=2)


def test_reinforce_raises_the_probability_of_the_winners_moves_and_lowers_the_losers() -> None:
    job = _rl_job()
    games = play_games((job.net, job._opponent(0)), 6, size=5, komi=3.0, seed=1, keep=True)
    for g in games:  # the current network wins every game...
        g.winner = 0 if g.black_is == 0 else 1
    moved = [(g.planes[k], g.legal[k], a) for g in games for k, (p, a) in enumerate(g.moves) if p == (0 if g.black_is == 0 else 1)]
    x = torch.from_numpy(np.stack([m[0] for m in moved])).float()
    legal = torch.from_numpy(np.stack([m[1] for m in moved]))
    actions = torch.tensor([m[2] for m in moved])

    def mean_log_p() -> float:
        with torch.no_grad():
            return float(torch.log_softmax(job.net(x, legal), 1)[torch.arange(len(actions)), actions].mean())

    before = mean_log_p()
    job._reinforce(games)
    assert mean_log_p() > before  # ...so its moves become more probable
    for g in games:  # ...and when it loses every game, less
        g.winner = 1 if g.black_is == 0 else 0
    middle = mean_log_p()
    job._reinforce(games)
    assert mean_log_p() < middle


def test_an_interrupted_rl_run_resumes_to_the_same_network() -> None:
    whole = _rl_job()
    while not whole.done:
        whole.step()
    assert len(whole.pool) == 2 and whole.history["iteration"] == [1.0, 2.0, 3.0]
    first = _rl_job()
    first.step()
    state = first.state_dict()
    second = _rl_job()
    second.load_state_dict(state)
    while not second.done:
        second.step()
    for a, b in zip(whole.net.parameters(), second.net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert second.history["win_rate"] == whole.history["win_rate"]

"""The nine-room environment obeys gymnasium's API and the notes' rule; the task table is right."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from deepkata.core.errors import UserError
from deepkata.rl.envs import ROOM_DOORS, ROOM_GOAL, ROOMS_ID, TASKS, NineRoomsEnv, get_task, room_rewards


def test_nine_rooms_passes_gymnasiums_env_checker():
    check_env(NineRoomsEnv(), skip_render_check=True)
    env = gym.make(ROOMS_ID)
    assert env.spec.max_episode_steps == 50


def test_reward_matrix_follows_the_notes_rule():
    reward = room_rewards()
    assert reward.shape == (9, 9)
    allowed = reward >= 1
    assert (allowed == allowed.T).all()  # doors open both ways
    assert allowed.sum() == 2 * len(ROOM_DOORS)
    assert set(reward[:, ROOM_GOAL][allowed[:, ROOM_GOAL]]) == {100.0}
    assert set(reward[allowed & (np.arange(9) != ROOM_GOAL)[None, :]]) == {1.0}


def test_steps_move_through_doors_only_and_end_in_the_goal():
    env = NineRoomsEnv()
    env.reset(seed=0)
    env.s = 0
    s, r, terminated, truncated, info = env.step(1)  # no door from 0 to 1
    assert (s, r, terminated) == (0, 0.0, False)
    assert list(info["action_mask"]) == [0, 0, 0, 1, 0, 0, 0, 0, 0]
    for room, expected in ((3, 1.0), (6, 1.0), (7, 1.0)):
        s, r, terminated, _, _ = env.step(room)
        assert (s, r, terminated) == (room, expected, False)
    s, r, terminated, _, _ = env.step(8)
    assert (s, r, terminated) == (8, 100.0, True)


def test_starts_are_uniform_over_the_eight_other_rooms():
    env = NineRoomsEnv()
    starts = [env.reset(seed=k)[0] for k in range(4000)]
    counts = np.bincount(starts, minlength=9)
    assert counts[ROOM_GOAL] == 0
    assert counts[:8] / 4000 == pytest.approx(np.full(8, 1 / 8), abs=0.02)


@pytest.mark.parametrize("env_id", ["CliffWalking-v1", ROOMS_ID])
def test_the_model_matches_the_simulator(env_id):
    env = get_task(env_id).make().unwrapped
    env.reset(seed=0)
    for s in range(env.observation_space.n):
        for a in range(env.action_space.n):
            env.s = s
            s_next, r, terminated, _, _ = env.step(a)
            assert [(1.0, s_next, r, terminated)] == [tuple(t) for t in env.P[s][a]]


def test_goal_states_are_where_successful_episodes_end():
    lake = TASKS["FrozenLake-v1"].make().unwrapped
    assert TASKS["FrozenLake-v1"].goal_states == {int(np.flatnonzero(lake.desc.ravel() == b"G")[0])}
    taxi = TASKS["Taxi-v4"].make().unwrapped
    ends = {s2 for s in taxi.P for a in taxi.P[s] for (_, s2, _, done) in taxi.P[s][a] if done}
    assert ends and ends <= TASKS["Taxi-v4"].goal_states
    for s in TASKS["Taxi-v4"].goal_states:
        _, _, passenger, destination = taxi.decode(s)
        assert passenger == destination
    assert TASKS["CliffWalking-v1"].goal_states == {47}


def test_room_walls_are_where_there_is_no_door():
    view = TASKS[ROOMS_ID].views(gym.make(ROOMS_ID))[0]
    doors = {frozenset(d) for d in ROOM_DOORS}
    neighbours = {frozenset((s, s + 1)) for s in range(9) if s % 3 < 2} | {frozenset((s, s + 3)) for s in range(6)}
    walls = {frozenset((int(a[0] * 3 + a[1]), int(b[0] * 3 + b[1]))) for a, b in view.walls}
    assert walls == neighbours - doors


def test_ansi_render_draws_rooms_doors_and_the_agent():
    env = NineRoomsEnv(render_mode="ansi")
    env.reset(seed=3)
    env.s = 4
    text = env.render()
    assert "[4]" in text and "4  -  5" not in text and "[4] -  5" in text
    assert text.splitlines()[0] == " 0     1  -  2"


def test_unknown_environment_names_the_closest_one():
    with pytest.raises(UserError, match=r"unknown environment 'FrozenLake-v2' \(valid: .*\); did you mean 'FrozenLake-v1'\?"):
        get_task("FrozenLake-v2")

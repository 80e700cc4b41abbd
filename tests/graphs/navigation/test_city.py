"""The city simulator: generated graph, landmarks, tasks, observations, step limit and metrics."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentrun.errors import UsageError
from agentrun.graphs.navigation import city as city_module
from agentrun.graphs.navigation.city import (
    DIRECTIONS,
    City,
    CityConfig,
    EpisodeOutcome,
    direction_of,
    sample_tasks,
    spl,
    summarize,
)
from agentrun.graphs.navigation.simulator import CityEnvironment
from agentrun.graphs.navigation.wayfinding import parse_observation, vector

SMALL = st.builds(
    CityConfig,
    seed=st.integers(0, 10_000),
    grid=st.integers(5, 9),
    landmarks=st.integers(2, 8),
    occlusion=st.floats(0, 0.6),
)
FAST = settings(max_examples=15, deadline=None)


def test_the_default_city_has_about_a_thousand_nodes_mostly_street_segments() -> None:
    city = City.build(CityConfig())
    degrees = Counter(city.degree(node) for node in range(city.size))
    assert 900 <= city.size <= 1_200
    assert degrees[2] > city.size / 2
    intersections = {d: n for d, n in degrees.items() if d >= 3}
    assert set(intersections) <= {3, 4, 5} and sum(intersections.values()) > 100
    assert len(city.hops_from(0)) == city.size  # connected
    assert len(city.landmarks) == 10


def test_exits_are_named_by_their_compass_bin_and_mirror_each_other() -> None:
    city = City.build(CityConfig(seed=3))
    for node in range(city.size):
        for name, ex in city.exits[node].items():
            assert direction_of(ex.bearing) == name
            back = [e for e in city.exits[ex.node].values() if e.node == node]
            assert len(back) == 1
            assert abs((back[0].bearing - ex.bearing) % 360 - 180) < 1e-6
            x, y = city.positions[node]
            assert math.isclose(city.distance(ex.node, x, y), ex.length, rel_tol=1e-3, abs_tol=0.2)


@FAST
@given(SMALL)
def test_the_same_seed_builds_the_same_city_and_tasks(config: CityConfig) -> None:
    first, second = city_module._generate(config), city_module._generate(config)
    assert first.positions == second.positions
    assert first.exits == second.exits
    assert first.landmarks == second.landmarks
    assert first.visible == second.visible
    assert sample_tasks(config, 4, seed=2, min_hops=2, max_hops=6) == sample_tasks(
        config, 4, seed=2, min_hops=2, max_hops=6
    )


def test_different_seeds_build_different_cities() -> None:
    assert City.build(CityConfig(seed=1)).positions != City.build(CityConfig(seed=2)).positions


@FAST
@given(SMALL, st.integers(1, 8), st.integers(0, 6), st.integers(0, 50))
def test_every_sampled_task_is_solvable_within_its_hop_range(
    config: CityConfig, min_hops: int, extra: int, seed: int
) -> None:
    tasks = sample_tasks(config, 5, seed=seed, min_hops=min_hops, max_hops=min_hops + extra)
    city = City.build(config)
    for task in tasks:
        path = city.shortest_path(task.start, task.goal)
        assert len(path) - 1 == task.shortest_hops
        assert min_hops <= task.shortest_hops <= min_hops + extra
        assert task.step_limit == math.ceil(2.5 * task.shortest_hops)
        env = CityEnvironment()
        env.reset(task)
        for action in city.actions_along(path):
            result = env.step(action)
        assert result.done and result.success and result.steps == task.shortest_hops


@FAST
@given(st.booleans(), st.integers(1, 200), st.integers(0, 600))
def test_spl_is_between_zero_and_one(success: bool, shortest: int, steps: int) -> None:
    value = spl(success, shortest, steps)
    assert 0.0 <= value <= 1.0
    assert value == 0.0 or success
    assert (value == 1.0) == (success and steps <= shortest)


@FAST
@given(SMALL, st.integers(0, 1_000))
def test_the_step_limit_ends_an_episode(config: CityConfig, walk_seed: int) -> None:
    task = sample_tasks(config, 1, seed=walk_seed, min_hops=3, max_hops=8)[0]
    env = CityEnvironment()
    env.reset(task)
    rng = random.Random(walk_seed)
    while not env.done:
        result = env.step(rng.choice(env.available_actions()))
        assert result.steps <= task.step_limit
    assert env.steps <= task.step_limit
    assert env.success or env.steps == task.step_limit
    assert env.available_actions() == []
    with pytest.raises(UsageError, match="finished"):
        env.step(DIRECTIONS[0])
    outcome = EpisodeOutcome(
        task_id=task.task_id, success=env.success, shortest_hops=task.shortest_hops,
        steps=env.steps,
    )  # fmt: skip
    assert 0.0 <= summarize([outcome])["spl"] <= 1.0


def test_oracle_perception_and_a_shortest_path_policy_score_sr_and_spl_of_one() -> None:
    tasks = sample_tasks(CityConfig(seed=11), 12, seed=11)
    outcomes = []
    for task in tasks:
        env = CityEnvironment()
        env.reset(task)
        while not env.done:
            path = env.city.shortest_path(env.node, task.goal)
            env.step(env.city.actions_along(path[:2])[0])
        outcomes.append(
            EpisodeOutcome(
                task_id=task.task_id,
                success=env.success,
                shortest_hops=task.shortest_hops,
                steps=env.steps,
            )
        )
    summary = summarize(outcomes)
    assert summary["sr"] == 1.0 and summary["spl"] == 1.0
    assert all(10 <= task.shortest_hops <= 50 for task in tasks)


def test_a_wandering_policy_scores_below_one() -> None:
    task = sample_tasks(CityConfig(seed=4), 1, seed=4, min_hops=10, max_hops=12)[0]
    env = CityEnvironment()
    env.reset(task)
    rng = random.Random(0)
    while not env.done:
        env.step(rng.choice(env.available_actions()))
    value = spl(env.success, task.shortest_hops, env.steps)
    assert value < 1.0


def test_the_text_observation_is_exact_oracle_perception() -> None:
    task = sample_tasks(CityConfig(seed=5), 1, seed=5, min_hops=10, max_hops=20)[0]
    env = CityEnvironment()
    observation = env.reset(task)
    city = env.city
    seen = parse_observation(observation.text)
    x, y = city.positions[task.start]
    names = {city.landmarks[i].name for i in city.visible[task.start]}
    assert {s.name for s in seen.landmarks} == names
    for sighting in seen.landmarks:
        mark = next(m for m in city.landmarks if m.name == sighting.name)
        dx, dy = vector(sighting.bearing, sighting.distance)
        assert math.hypot(x + dx - mark.x, y + dy - mark.y) < 3.0
        assert sighting.distance <= city.config.visibility_m + 1
    assert [ex.direction for ex in seen.exits] == env.available_actions()
    assert observation.image is None


def test_goals_are_described_only_relative_to_landmarks() -> None:
    task = sample_tasks(CityConfig(seed=6), 1, seed=6, references=2)[0]
    city = City.build(task.city)
    gx, gy = city.positions[task.goal]
    assert task.instruction.startswith("The goal is ")
    for ref in task.references:
        assert ref.landmark in task.instruction
        mark = next(m for m in city.landmarks if m.name == ref.landmark)
        dx, dy = vector(ref.bearing, ref.distance_m)
        assert math.hypot(mark.x + dx - gx, mark.y + dy - gy) < 20


def test_perception_noise_perturbs_bearings_deterministically() -> None:
    exact = CityConfig(seed=8, occlusion=0)
    noisy = exact.model_copy(update={"bearing_noise_deg": 15.0, "distance_noise": 0.2})
    city = City.build(exact)
    pairs = zip(sample_tasks(exact, 20, seed=1), sample_tasks(noisy, 20, seed=1), strict=True)
    task_exact, task_noisy = next((a, b) for a, b in pairs if city.visible[a.start])
    env = CityEnvironment()
    env.reset(task_exact)
    truth = env.sightings()
    env.reset(task_noisy)
    first = env.sightings()
    env.reset(task_noisy)
    assert env.sightings() == first
    assert truth and {s[0] for s in first} == {s[0] for s in truth}
    assert first != truth
    for (_, true_bearing, true_distance), (_, bearing, distance) in zip(
        sorted(truth), sorted(first), strict=True
    ):
        assert abs((bearing - true_bearing + 180) % 360 - 180) < 90
        assert 0 < distance < 3 * true_distance


def test_invalid_actions_and_impossible_tasks_are_clear_errors() -> None:
    task = sample_tasks(CityConfig(), 1, min_hops=3, max_hops=5)[0]
    env = CityEnvironment()
    env.reset(task)
    missing = next(d for d in DIRECTIONS if d not in env.available_actions())
    with pytest.raises(UsageError, match="not an exit here; choose one of"):
        env.step(missing)
    with pytest.raises(UsageError, match="min_hops"):
        sample_tasks(CityConfig(), 1, min_hops=9, max_hops=3)
    with pytest.raises(UsageError, match="too few node pairs"):
        sample_tasks(CityConfig(grid=3), 2, min_hops=200, max_hops=300)


def test_landmarks_are_seen_within_the_radius_minus_occlusion() -> None:
    clear = City.build(CityConfig(seed=9, occlusion=0.0))
    hidden = City.build(CityConfig(seed=9, occlusion=1.0))
    assert all(not seen for seen in hidden.visible)
    for node in range(0, clear.size, 7):
        near = {
            i for i, m in enumerate(clear.landmarks)
            if clear.distance(node, m.x, m.y) <= clear.config.visibility_m
        }  # fmt: skip
        assert set(clear.visible[node]) == near
    half = City.build(CityConfig(seed=9, occlusion=0.5))
    seen = sum(len(v) for v in half.visible)
    assert 0.35 < seen / sum(len(v) for v in clear.visible) < 0.65

"""The deterministic half of navigation: parsing, goal estimates, reflection, grid and plans."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from agentrun.graphs.navigation import wayfinding as wf
from agentrun.graphs.navigation.city import City, CityConfig, sample_tasks
from agentrun.graphs.navigation.simulator import CityEnvironment


def test_goal_instructions_and_observations_parse_back() -> None:
    task = sample_tasks(CityConfig(seed=1), 1, seed=1)[0]
    references = wf.parse_goal(task.instruction)
    assert [(r.landmark, r.distance, r.bearing) for r in references] == [
        (ref.landmark, ref.distance_m, ref.bearing) for ref in task.references
    ]
    loose = wf.parse_goal("the goal is 300 m north-east of the Central Tower")
    assert loose == [wf.Reference("Central Tower", 300.0, 45.0)]


def test_landmark_lines_parse_leniently_and_never_invent() -> None:
    reply = (
        "Old Mill - north east, 300 m\n* Clock Tower: 120 m, bearing 45°\n"
        "Water Tower: far away\nNONE"
    )
    assert wf.parse_landmarks(reply) == [
        wf.Sighting("Old Mill", 45.0, 300.0),
        wf.Sighting("Clock Tower", 45.0, 120.0),
    ]
    assert wf.parse_landmarks("NONE") == []


def test_direction_replies_are_matched_to_the_allowed_list() -> None:
    allowed = ["north", "north-east", "south-west"]
    assert wf.parse_direction("I would go North East.", allowed) == "north-east"
    assert wf.parse_direction("1. south-west (bearing 220°)", allowed) == "south-west"
    assert wf.parse_direction("northeast", allowed) == "north-east"
    assert wf.parse_direction("NE", allowed) == "north-east"
    assert wf.parse_direction("east", allowed) is None
    assert wf.parse_direction("I am not sure.", allowed) is None


def test_exact_perception_estimates_the_goal_within_metres() -> None:
    config = CityConfig(seed=2)
    city = City.build(config)
    tasks = sample_tasks(config, 30, seed=2)
    task = next(t for t in tasks if wf.estimate_goal(
        (0, 0), wf.parse_observation(CityEnvironment().reset(t).text).landmarks,
        wf.parse_goal(t.instruction), 0))  # fmt: skip
    perception = wf.parse_observation(CityEnvironment().reset(task).text)
    estimates = wf.estimate_goal((0, 0), perception.landmarks, wf.parse_goal(task.instruction), 0)
    (sx, sy), (gx, gy) = city.positions[task.start], city.positions[task.goal]
    for estimate in estimates:
        assert math.hypot(estimate.x - (gx - sx), estimate.y - (gy - sy)) < 25


def test_reflection_drops_outliers() -> None:
    good = [wf.GoalEstimate(500 + dx, 300 + dy, i, "A") for i, (dx, dy) in
            enumerate([(0, 0), (10, -5), (-8, 6), (4, 4), (-3, -9)])]  # fmt: skip
    wild = wf.GoalEstimate(-900, 1400, 9, "B")
    goal, outliers = wf.reflect_goal([*good, wild])
    assert outliers == 1
    assert goal is not None and math.hypot(goal[0] - 500, goal[1] - 300) < 10
    assert wf.reflect_goal([]) == (None, 0)


def test_loops_are_detected_on_the_grid() -> None:
    square = [(0, 0), (80, 0), (80, 80), (0, 80)] * 3 + [(0, 0)]
    assert wf.loop_detected(square, window=12, repeats=3)
    straight = [(80.0 * i, 0.0) for i in range(13)]
    assert not wf.loop_detected(straight)


@settings(max_examples=50, deadline=None)
@given(st.floats(-2000, 2000), st.floats(-2000, 2000))
def test_plan_legs_add_up_to_the_goal_vector(dx: float, dy: float) -> None:
    legs = wf.plan_legs((0, 0), (dx, dy))
    if math.hypot(dx, dy) < 1:
        assert legs == []
        return
    x = sum(wf.vector(wf.DIRECTIONS.index(leg.direction) * 45.0, leg.metres)[0] for leg in legs)
    y = sum(wf.vector(wf.DIRECTIONS.index(leg.direction) * 45.0, leg.metres)[1] for leg in legs)
    assert 1 <= len(legs) <= 2 and all(leg.metres >= 0 for leg in legs)
    if len(legs) == 2:
        assert math.isclose(x, dx, abs_tol=1e-6) and math.isclose(y, dy, abs_tol=1e-6)


def test_options_never_bounce_back_unless_forced_and_prefer_the_target() -> None:
    perception = wf.Perception((), (wf.ExitView("north", 0, 80), wf.ExitView("east", 90, 80),
                                    wf.ExitView("south", 180, 80)))  # fmt: skip
    options = wf.rank_options(perception, (0, 0), (0, -80), 80.0, {})
    assert [o.direction for o in options] == ["east", "north"]
    visited = wf.visit_counts([(80, 0), (80, 0)])
    revisiting = wf.rank_options(perception, (0, 0), (0, -80), 80.0, visited)
    assert revisiting[0].direction == "north"
    dead_end = wf.Perception((), (wf.ExitView("south", 180, 80),))
    assert [o.back for o in wf.rank_options(dead_end, (0, 0), (0, -80), 0.0, {})] == [True]


def test_a_choice_is_read_by_number_or_name_whichever_comes_first() -> None:
    candidates = ["north", "east", "south-west"]
    assert wf.parse_choice("2", candidates) == "east"
    assert wf.parse_choice("Move 3: south-west.", candidates) == "south-west"
    assert wf.parse_choice("south west", candidates) == "south-west"
    assert wf.parse_choice("east, not 1", candidates) == "east"
    assert wf.parse_choice("1. north", candidates) == "north"
    for invalid in ("4", "0", "west", "I cannot tell", ""):
        assert wf.parse_choice(invalid, candidates) is None


def test_evidence_names_a_loop_the_moves_that_led_back_and_landmark_agreement() -> None:
    square = [[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]]
    positions = square * 3 + [[0.0, 0.0]]
    actions = ["east", "north", "west", "south"] * 3
    assert wf.departures(positions[:-1], actions, positions[-1]) == {"east": 3}
    assert wf.revisits(positions, 5) == 5 and wf.revisits(square, 5) == 0
    estimates = [wf.GoalEstimate(500, 500, 1, "Old Mill"), wf.GoalEstimate(520, 500, 2, "Tower"),
                 wf.GoalEstimate(900, 100, 3, "Tower")]  # fmt: skip
    goal, outliers = wf.reflect_goal(estimates)
    assert goal is not None and outliers == 1
    evidence = wf.gather_evidence(estimates, goal, outliers, positions, True, window=12)
    assert evidence.here_times == 3 and evidence.revisits == 5
    text = "\n".join(evidence.lines())
    assert "3 estimates from 2 landmark(s) agree within 10 m (1 outlier(s) dropped)" in text
    assert "Loop detected: you have stood here 3 times in the last 12 moves" in text
    assert "Recent failures: 5 of your last 5 moves led back" in text
    fresh = wf.gather_evidence([], None, 0, [[0.0, 0.0]], False, window=12)
    assert fresh.lines() == ["Landmark agreement: no landmark named in the goal seen yet."]

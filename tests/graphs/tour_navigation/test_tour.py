"""Tours: covering walks become a topological graph that localizes views and routes to frames."""

from __future__ import annotations

from agentrun.graphs.navigation.city import CityConfig
from agentrun.graphs.navigation.simulator import CityEnvironment
from agentrun.graphs.tour_navigation.tour import record_tour, region, sample_tour_tasks

CONFIG = CityConfig(seed=3)


def test_a_tour_covers_its_region_with_adjacent_frames() -> None:
    task = sample_tour_tasks(CONFIG, 1, seed=1)[0]
    tour = task.tour()
    nodes = region(tour.city, task.centre, task.radius_m)
    assert {frame.node for frame in tour.frames} == nodes
    for here, there in zip(tour.frames, tour.frames[1:], strict=False):
        assert here.action is not None
        assert tour.city.exits[here.node][here.action].node == there.node
    assert tour.frames[-1].action is None


def test_routes_from_every_frame_reach_the_goal_in_the_environment() -> None:
    task = sample_tour_tasks(CONFIG, 1, seed=2)[0]
    tour = task.tour()
    goal_frame = task.goal_frames()[0]
    for frame in tour.frames[::3]:
        env = CityEnvironment()
        env.reset(task.city_task().model_copy(update={"start": frame.node}))
        for move in tour.route(frame.index, goal_frame):
            env.step(move)
        assert env.node == task.goal


def test_the_current_view_localizes_to_a_frame_at_the_same_place() -> None:
    task = sample_tour_tasks(CONFIG, 1, seed=3)[0]
    tour = task.tour()
    env = CityEnvironment()
    for node in sorted({frame.node for frame in tour.frames}):
        observation = env.reset(task.city_task().model_copy(update={"start": node}))
        assert tour.frames[tour.localize(observation.text)].node == node


def test_tour_tasks_are_seeded_and_their_goal_sees_the_landmark() -> None:
    first = sample_tour_tasks(CONFIG, 4, seed=9)
    assert first == sample_tour_tasks(CONFIG, 4, seed=9)
    assert first != sample_tour_tasks(CONFIG, 4, seed=10)
    for task in first:
        goals = task.goal_frames()
        assert goals
        tour = task.tour()
        assert all(task.landmark in tour.frames[g].caption for g in goals)
        assert task.start != task.goal and task.shortest_hops >= 2
        assert record_tour(task.city, task.centre, task.radius_m) is tour

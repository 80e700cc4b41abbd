"""Pictures of the city: the heading-up local map (image observation) and episode maps."""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
from pathlib import Path

import pytest
from PIL import Image

from agentrun.graphs.navigation.city import City, CityConfig, exact_sightings, sample_tasks
from agentrun.graphs.navigation.render import (
    MAP_PX,
    episode_figure,
    episode_png,
    local_map_png,
    north_marker,
)
from agentrun.graphs.navigation.simulator import CityEnvironment

BLUE = (30, 90, 200)  # landmarks on the local map
CONFIG = CityConfig(seed=2, occlusion=0)
CENTRE = MAP_PX / 2
Point = tuple[float, float]


def expected_pixel(bearing: float, distance: float, heading: float, radius: float) -> Point:
    """Where the spec puts a sighting: heading up, the agent at the centre, the radius 6 px in."""
    scale = (MAP_PX / 2 - 6) / radius
    relative = math.radians(bearing - heading)
    return CENTRE + distance * math.sin(relative) * scale, CENTRE - distance * math.cos(
        relative
    ) * scale


def picture(png: bytes | None) -> Image.Image:
    assert png is not None and png.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(png)).convert("RGB")


def rgb(image: Image.Image, point: tuple[int, int]) -> tuple[int, ...]:
    colour = image.getpixel(point)
    assert isinstance(colour, tuple)
    return colour


def is_blue_at(image: Image.Image, point: Point) -> bool:
    """Most of the 3x3 pixels around `point` are landmark blue (a square is drawn there)."""
    x, y = round(point[0]), round(point[1])
    hits = sum(image.getpixel((x + i, y + j)) == BLUE for i in (-1, 0, 1) for j in (-1, 0, 1))
    return hits >= 5


def clear(point: Point) -> bool:
    """Away from the agent marker, the north arrow and the scale bar, and inside the image."""
    x, y = point
    inside = 8 <= x <= MAP_PX - 8 and 8 <= y <= MAP_PX - 8
    return (
        inside
        and math.dist(point, (CENTRE, CENTRE)) > 14
        and not (x > 186 and y < 70)
        and not (x < 70 and y > 220)
    )


def environment_with_landmarks(config: CityConfig, count: int = 2) -> CityEnvironment:
    """An environment standing where at least `count` landmarks are in view."""
    task = sample_tasks(config, 1, seed=2, min_hops=5, max_hops=9)[0]
    env = CityEnvironment()
    env.reset(task)
    env.node = next(n for n in range(env.city.size) if len(env.city.visible[n]) >= count)
    return env


def test_landmarks_land_where_their_bearing_puts_them_with_the_heading_up() -> None:
    env = environment_with_landmarks(CONFIG)
    radius = env.city.config.visibility_m
    images = {}
    for heading in (0.0, 90.0, 225.0):  # the same node: only the heading changes
        env.heading = heading
        image = picture(env.observe("image").image)
        assert image.size == (MAP_PX, MAP_PX)
        points = [expected_pixel(b, d, heading, radius) for _, b, d in env.sightings()]
        checked = [p for p in points if clear(p)]
        assert checked, "no landmark in a checkable place"
        assert all(is_blue_at(image, p) for p in checked), heading
        images[heading] = image
    assert images[0.0].tobytes() != images[90.0].tobytes()
    # The north arrow points where a landmark due north would be drawn.
    for heading in (0.0, 90.0, 180.0, 270.0):
        base, tip, _ = north_marker(heading)
        nx, ny = expected_pixel(0.0, 100.0, heading, radius)
        want = math.atan2(ny - CENTRE, nx - CENTRE)
        assert math.atan2(tip[1] - base[1], tip[0] - base[0]) == pytest.approx(want, abs=1e-6)


def test_visible_landmarks_are_named_beside_their_squares() -> None:
    env = environment_with_landmarks(CONFIG)
    city, node = env.city, env.node
    renamed = City(
        city.config, city.positions, city.exits,
        [dataclasses.replace(m, name="Q" if m.name != "Q" else "R") for m in city.landmarks],
    )  # fmt: skip
    named = picture(local_map_png(city, node, 0.0))
    other = picture(local_map_png(renamed, node, 0.0))
    squares = [expected_pixel(b, d, 0.0, city.config.visibility_m) for _, b, d in env.sightings()]
    changed = [
        (x, y) for x in range(MAP_PX) for y in range(MAP_PX)
        if named.getpixel((x, y)) != other.getpixel((x, y))
    ]  # fmt: skip
    assert changed  # the names are drawn ...
    for x, y in changed:  # ... to the right of a landmark's square, at its height
        assert any(px + 4 < x <= px + 150 and abs(y - py) <= 12 for px, py in squares), (x, y)


def test_perception_noise_moves_landmarks_in_the_image_as_in_the_text() -> None:
    noisy = CONFIG.model_copy(update={"bearing_noise_deg": 25.0, "distance_noise": 0.3})
    env = environment_with_landmarks(noisy)
    radius = noisy.visibility_m
    observation = env.observe("image")
    image = picture(observation.image)
    perceived = env.sightings()
    for name, bearing, distance in perceived:  # the text reports the same draw of the noise
        assert f"- {name}: {distance:.0f} m, bearing {bearing:.0f}°" in observation.text
    exact = dict((name, (b, d)) for name, b, d in exact_sightings(env.city, env.node))
    moved = [
        expected_pixel(b, d, env.heading, radius) for name, b, d in perceived
        if math.dist(expected_pixel(b, d, env.heading, radius),
                     expected_pixel(*exact[name], env.heading, radius)) > 10
    ]  # fmt: skip
    checked = [p for p in moved if clear(p)]
    assert checked, "the noise moved no landmark far enough to check"
    assert all(is_blue_at(image, p) for p in checked)


@pytest.mark.parametrize("heading", range(0, 360, 15))
def test_the_north_label_stays_inside_and_clear_of_the_arrow(heading: int) -> None:
    base, tip, label = north_marker(heading)
    assert all(10 <= value <= MAP_PX - 10 for value in label)
    assert math.dist(label, tip) >= 7 and math.dist(label, base) > math.dist(tip, base)
    image = picture(local_map_png(City.build(CONFIG), 0, float(heading)))
    x, y = round(label[0]), round(label[1])
    box = [rgb(image, (x + i, y + j)) for i in range(-4, 5) for j in range(-5, 6)]
    assert any(max(pixel) < 80 for pixel in box)  # the "N" is drawn there


def test_an_episode_map_draws_the_path_start_goal_and_landmarks(tmp_path: Path) -> None:
    task = sample_tasks(CityConfig(), 1, min_hops=8, max_hops=12)[0]
    city = City.build(task.city)
    path = city.shortest_path(task.start, task.goal)
    figure = episode_figure(task, {"shortest": path})
    axes = figure.axes[0]
    drawn = axes.get_legend()
    assert drawn is not None
    legend = drawn.get_window_extent()
    height = figure.bbox.height
    buffer = io.BytesIO()
    figure.savefig(buffer)
    image = Image.open(buffer).convert("RGB")

    def pixel(x: float, y: float) -> tuple[int, ...] | None:
        px, py = axes.transData.transform((x, y))
        if legend.contains(px, py):
            return None
        colour = image.getpixel((round(px), round(height - py)))
        assert isinstance(colour, tuple)
        return colour[:3]

    def reddish(colour: tuple[int, ...] | None) -> bool:
        return colour is not None and colour[0] > 150 and max(colour[1:]) < 120

    middles = [
        pixel((city.positions[a][0] + city.positions[b][0]) / 2,
              (city.positions[a][1] + city.positions[b][1]) / 2)
        for a, b in itertools.pairwise(path)
    ]  # fmt: skip
    assert sum(map(reddish, middles)) >= 0.8 * len(middles)  # the path runs along its streets
    far = max(range(city.size), key=lambda n: min(math.dist(city.positions[n], city.positions[p])
                                                  for p in path))  # fmt: skip
    assert not reddish(pixel(*city.positions[far]))
    start = pixel(*city.positions[task.start])
    assert start is not None and start[1] > 120 > start[0]  # green start
    assert reddish(pixel(*city.positions[task.goal]))  # red goal star
    referenced = {ref.landmark for ref in task.references}
    for mark in city.landmarks:
        colour = pixel(mark.x, mark.y)
        if colour is not None:
            want = (255, 127, 14) if mark.name in referenced else (85, 85, 85)
            assert all(abs(a - b) <= 30 for a, b in zip(colour, want, strict=True)), mark.name
    out = episode_png(task, {"shortest": path}, tmp_path / "episode.png")
    with Image.open(out) as saved:
        assert saved.size == image.size

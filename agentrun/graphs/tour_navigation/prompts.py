"""Tour navigation's one prompt: the tour frame by frame, where the robot is, the instruction."""

from __future__ import annotations

from typing import Any

from agentrun.agents.messages import Image, Message, system
from agentrun.graphs.navigation.render import local_map_png
from agentrun.graphs.tour_navigation.tour import Tour


def choose_messages(tour: Tour, current: int, instruction: str, images: bool) -> list[Message]:
    """Every frame labelled 'Frame i', the current frame, the instruction; ask for a number."""
    parts: list[Any] = [{"type": "text", "text": "A tour of the neighbourhood, frame by frame:"}]
    for frame in tour.frames:
        parts.append({"type": "text", "text": f"Frame {frame.index}: {frame.caption}"})
        if images:
            png = local_map_png(tour.city, frame.node, frame.heading)
            parts.append(Image(png, mime_type="image/png").to_part())
    parts.append(
        {
            "type": "text",
            "text": f"You are at frame {current}.\nInstruction: {instruction}\n"
            "Which frame is the place to go? Reply with the frame number only.",
        }
    )
    if not images:
        text = "\n".join(part["text"] for part in parts)
        return [
            system("You guide a robot using a recorded tour."),
            {"role": "user", "content": text},
        ]
    return [system("You guide a robot using a recorded tour."), {"role": "user", "content": parts}]

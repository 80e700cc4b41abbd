"""Images become OpenAI-style parts that any VLM behind LiteLLM receives."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from agentrun.agents import Gateway, Image, user
from agentrun.agents.messages import normalize_messages
from agentrun.agents.testing import scripted_model
from agentrun.errors import InputFileError

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_path_bytes_and_url_reach_the_model_as_image_parts(
    tmp_path: Path, data_dir: Path
) -> None:
    picture = tmp_path / "map.png"
    picture.write_bytes(PNG)
    message = user(
        "What is in these?",
        Image(picture),
        Image(PNG, detail="low"),
        Image("https://example.com/street.jpg"),
    )
    with scripted_model(["a street"]) as fake:
        async with Gateway(data_dir=data_dir) as gateway:
            await gateway.acomplete("fake/vlm", [message])
    parts = fake.calls[0].messages[0]["content"]
    assert parts[0] == {"type": "text", "text": "What is in these?"}
    urls = [p["image_url"]["url"] for p in parts[1:]]
    assert urls[0] == urls[1] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert urls[2] == "https://example.com/street.jpg"
    assert parts[2]["image_url"]["detail"] == "low"


def test_dict_image_parts_are_normalized(tmp_path: Path) -> None:
    picture = tmp_path / "a.png"
    picture.write_bytes(PNG)
    [message] = normalize_messages(
        [{"role": "user", "content": [{"type": "image", "image": str(picture)}, "caption"]}]
    )
    assert message["content"][0]["type"] == "image_url"
    assert message["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert message["content"][1] == {"type": "text", "text": "caption"}


def test_missing_image_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"nothere\.png"):
        normalize_messages([user("see", Image(tmp_path / "nothere.png"))])

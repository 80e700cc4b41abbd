"""What the model is asked, in one place."""

from __future__ import annotations

from agentrun.agents.messages import Message


def keywords(text: str, count: int) -> list[Message]:
    return [
        {"role": "system", "content": "You pick the words that matter most in a text."},
        {"role": "user", "content": f"Text:\n{text}\n\nList the {count} most important single "
                                    "words of the text, separated by commas, nothing else."},
    ]  # fmt: skip


def brief(text: str, counts: dict[str, int]) -> list[Message]:
    listed = ", ".join(f"{word} ({n}x)" for word, n in counts.items())
    return [
        {"role": "system", "content": "You write one-sentence briefs."},
        {"role": "user", "content": f"Text:\n{text}\n\nKeywords: {listed}\nWrite one sentence "
                                    "that says what the text is about, using the keywords."},
    ]  # fmt: skip

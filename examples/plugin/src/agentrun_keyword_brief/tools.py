"""The plugin's own tool: count how often each keyword occurs in a text."""

from __future__ import annotations

import re

from agentrun.tools.function import tool


@tool(name="keywords.count")
def count_keywords(text: str, keywords: list[str]) -> dict[str, int]:
    """Count the whole-word occurrences of each keyword in the text (case ignored).

    Args:
        text: The text to search.
        keywords: The words to count.
    """
    words = re.findall(r"\w+", text.lower())
    return {keyword: words.count(keyword.lower()) for keyword in keywords}

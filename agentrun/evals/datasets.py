"""Long-document QA items, and loaders for LongBench JSONL and HotpotQA distractor JSON.

Every item carries its context, its gold answers (an empty list: the context holds no answer and
the right reply is to abstain) and, where the source says which sentences support the answer
(HotpotQA's `supporting_facts`, the generator's planted facts), that gold evidence with its
character offsets in the context, so extraction can be scored for recall.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentrun.errors import InputFileError
from agentrun.text.files import json_objects
from agentrun.text.files import read_text_file as read_source

TokenCounter = Callable[[str], int]
DatasetFormat = Literal["auto", "longbench", "hotpotqa"]

#: Smallest length bucket of loaded items, in tokens.
MIN_BUCKET = 1024


class Evidence(BaseModel):
    """A gold supporting sentence: `context[start:end] == text`."""

    model_config = ConfigDict(extra="forbid")

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class QAItem(BaseModel):
    """One question about one long context."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str
    answers: list[str] = Field(description="Gold answers; empty when the context has none.")
    context: str
    kind: str = Field(description="single, multi_hop, absent, longbench or hotpotqa.")
    source: str
    target_tokens: int = Field(description="The length bucket the item belongs to.")
    tokens: int = Field(default=0, description="Context tokens on the eval's model (0: unknown).")
    depths: list[float] = Field(default_factory=list, description="Where planted facts sit.")
    evidence: list[Evidence] = Field(default_factory=list)

    @property
    def gold(self) -> str | None:
        return self.answers[0] if self.answers else None


def length_bucket(tokens: int) -> int:
    """The power of two at or above `tokens` (at least `MIN_BUCKET`): 3,000 tokens -> 4,096."""
    return max(MIN_BUCKET, 1 << math.ceil(math.log2(max(tokens, 1))))


def _string(where: str, record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InputFileError(where, f"field {field!r} must be a non-empty string")
    return value


def _measure(context: str, count: TokenCounter | None) -> tuple[int, int]:
    tokens = count(context) if count is not None else 0
    estimate = tokens or max(1, len(context) // 4)
    return tokens, length_bucket(estimate)


def load_longbench(
    path: str | Path, *, count: TokenCounter | None = None, encoding: str | None = None
) -> list[QAItem]:
    """LongBench JSONL: one object per line with `context`, `input` (the question), `answers`."""
    file = Path(path)
    items: list[QAItem] = []
    for number, record in json_objects(file, read_source(file, encoding=encoding)):
        where = f"{file}:{number}"
        answers = record.get("answers")
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise InputFileError(where, "field 'answers' must be a list of strings")
        context = _string(where, record, "context")
        tokens, bucket = _measure(context, count)
        items.append(
            QAItem(
                id=str(record.get("_id") or f"{file.stem}-{number}"),
                question=_string(where, record, "input"),
                answers=[a for a in answers if a.strip()],
                context=context,
                kind="longbench",
                source=str(file),
                target_tokens=bucket,
                tokens=tokens,
            )
        )
    return items


def _hotpot_records(file: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(
                f"{file}:{exc.lineno}", f"not valid JSON ({exc.msg}); expected a list of questions"
            ) from exc
        for index, record in enumerate(data):
            if not isinstance(record, dict):
                raise InputFileError(f"{file} item {index}", "each item must be a JSON object")
            yield f"{file} item {index}", record
    else:
        for number, record in json_objects(file, text):
            yield f"{file}:{number}", record


def hotpot_context(
    paragraphs: list[Any], supporting: list[Any], where: str
) -> tuple[str, list[Evidence]]:
    """The context text of a HotpotQA item and its supporting sentences with their offsets.

    Each paragraph is its title on one line, then its sentences as given (HotpotQA keeps the
    space before a sentence in the sentence itself); paragraphs are separated by a blank line.
    Supporting facts that point past a paragraph's last sentence (a known flaw of a few items)
    are skipped.
    """
    wanted = {(str(title), int(index)) for title, index in supporting}
    parts: list[str] = []
    evidence: list[Evidence] = []
    offset = 0
    for number, paragraph in enumerate(paragraphs):
        if not (isinstance(paragraph, list) and len(paragraph) == 2):
            raise InputFileError(where, f"context[{number}] must be [title, [sentences...]]")
        title, sentences = str(paragraph[0]), paragraph[1]
        if parts:
            parts.append("\n\n")
            offset += 2
        parts.append(title + "\n")
        offset += len(title) + 1
        for index, sentence in enumerate(sentences):
            piece = str(sentence)
            if index and piece and not piece[0].isspace():
                parts.append(" ")
                offset += 1
            if (title, index) in wanted:
                lead = len(piece) - len(piece.lstrip())
                core = piece.strip()
                if core:
                    evidence.append(
                        Evidence(text=core, start=offset + lead, end=offset + lead + len(core))
                    )
            parts.append(piece)
            offset += len(piece)
    return "".join(parts), evidence


def load_hotpotqa(
    path: str | Path, *, count: TokenCounter | None = None, encoding: str | None = None
) -> list[QAItem]:
    """HotpotQA (distractor setting): a JSON list (or JSONL) of questions with `context`
    paragraphs and `supporting_facts`, which become the items' gold evidence."""
    file = Path(path)
    items: list[QAItem] = []
    for where, record in _hotpot_records(file, read_source(file, encoding=encoding)):
        paragraphs = record.get("context")
        supporting = record.get("supporting_facts", [])
        if not isinstance(paragraphs, list) or not paragraphs:
            raise InputFileError(where, "field 'context' must be a list of [title, sentences]")
        if not isinstance(supporting, list):
            raise InputFileError(where, "field 'supporting_facts' must be a list of [title, n]")
        context, evidence = hotpot_context(paragraphs, supporting, where)
        tokens, bucket = _measure(context, count)
        items.append(
            QAItem(
                id=str(record.get("_id") or where),
                question=_string(where, record, "question"),
                answers=[_string(where, record, "answer")],
                context=context,
                kind="hotpotqa",
                source=str(file),
                target_tokens=bucket,
                tokens=tokens,
                evidence=evidence,
            )
        )
    return items


def detect_format(path: Path, encoding: str | None = None) -> Literal["longbench", "hotpotqa"]:
    """LongBench rows have `input` and `answers`; HotpotQA rows have `supporting_facts`."""
    head = read_source(path, encoding=encoding)[:200_000]
    if '"supporting_facts"' in head:
        return "hotpotqa"
    if '"input"' in head and '"answers"' in head:
        return "longbench"
    raise InputFileError(
        str(path),
        "neither LongBench JSONL (context, input, answers) nor HotpotQA JSON (supporting_facts); "
        "pass --format longbench or --format hotpotqa",
    )


def load_dataset(
    path: str | Path,
    fmt: DatasetFormat = "auto",
    *,
    count: TokenCounter | None = None,
    encoding: str | None = None,
) -> list[QAItem]:
    file = Path(path)
    if not file.is_file():
        raise InputFileError(str(file), "no such file; pass a LongBench JSONL or HotpotQA JSON")
    chosen = detect_format(file, encoding) if fmt == "auto" else fmt
    loader = load_longbench if chosen == "longbench" else load_hotpotqa
    items = loader(file, count=count, encoding=encoding)
    if not items:
        raise InputFileError(str(file), "holds no questions")
    return items

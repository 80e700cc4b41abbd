"""Questions to a person inside a run, on LangGraph's `interrupt()`.

A node calls `ask(...)` (a free answer, optionally held to a JSON Schema) or `review(...)` (the
person approves, edits or rejects a value). The run stops there with a checkpoint; it goes on
when resumed with an answer, which is checked *before* the run resumes, so an answer that fails
its schema is refused and the run stays where it was, still resumable.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from jsonschema import Draft202012Validator
from langgraph.config import get_config
from langgraph.types import interrupt
from pydantic import BaseModel

from agentrun.errors import AnswerError
from agentrun.graphs.events import PendingQuestion

#: Answers to a review that approve, or reject, what was shown (case and spaces ignored).
APPROVALS = ("approve", "approved", "yes", "y", "ok")
REJECTIONS = ("reject", "rejected", "no", "n")


class Review(BaseModel):
    """The outcome of `review(...)`: approved as is, replaced by an edit, or rejected."""

    action: Literal["approve", "edit", "reject"]
    value: Any = None
    reason: str = ""


def _node() -> str:
    metadata = get_config().get("metadata") or {}
    return str(metadata.get("langgraph_node", ""))


def ask(question: str, *, schema: dict[str, Any] | None = None) -> Any:
    """Stop the run until a person answers `question`; return the (validated) answer."""
    pending = PendingQuestion(node=_node(), question=question, answer_schema=schema)
    return _answer(interrupt(_payload(pending)))


def review(question: str, value: Any, *, schema: dict[str, Any] | None = None) -> Review:
    """Show `value` to a person who approves it, edits it (the edit must satisfy `schema`) or
    rejects it (with a reason)."""
    pending = PendingQuestion(
        node=_node(), question=question, review="approve", answer_schema=schema, value=value
    )
    return Review.model_validate(_answer(interrupt(_payload(pending))))


def relay(pending: PendingQuestion, node: str) -> Any:
    """Pass the question of a run inside this node (a workflow in a pipeline) on to the
    person, named under `node` (`result/review`); the answer for it, or `NOT_FOR_IT` when the
    reply answered an earlier question of that run (a node replays its questions in order each
    time it resumes)."""
    passed = pending.model_copy(update={"node": f"{node}/{pending.node}", "relayed": pending.id})
    reply = interrupt(_payload(passed))
    if _to(reply) != pending.id:
        return NOT_FOR_IT
    return reply.get("given", _answer(reply))  # the inner run checks the answer as given


#: What `relay` returns for a reply meant for an earlier question.
NOT_FOR_IT: Any = object()


def reply_to(pending: PendingQuestion, given: Any) -> dict[str, Any]:
    """How an answer travels back into the run: checked, as given (for a relayed question,
    which the run inside checks itself), and with the question it answers."""
    return {
        "answer": checked_answer(pending, given),
        "given": given,
        "to": pending.relayed or pending.id,
    }


def _payload(pending: PendingQuestion) -> dict[str, Any]:
    return pending.model_dump(mode="json", exclude={"id"})


def _answer(reply: Any) -> Any:
    return reply["answer"] if isinstance(reply, dict) and "to" in reply else reply


def _to(reply: Any) -> Any:
    return reply.get("to") if isinstance(reply, dict) else None


def _parsed(answer: Any) -> Any:
    """A text answer that is JSON becomes its value; any other text stays text."""
    if not isinstance(answer, str):
        return answer
    try:
        return json.loads(answer)
    except ValueError:
        return answer


def _check(value: Any, schema: dict[str, Any] | None, what: str) -> Any:
    if schema is None:
        return value
    if schema.get("type") == "string" and not isinstance(value, str):
        value = json.dumps(value)
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.path) or "the answer"
        raise AnswerError(
            f"{what} refused: {where}: {first.message}; answer again (the run still waits)"
        )
    return value


def checked_answer(pending: PendingQuestion, answer: Any) -> Any:
    """`answer` as the run will receive it, or a `UsageError` saying why it is refused.

    For a review: `approve` (or yes/ok), `reject` or `reject: <reason>`, else the answer is an
    edit of the reviewed value (JSON where it parses) and must satisfy the schema.
    """
    if pending.review == "answer":
        value = answer if (pending.answer_schema or {}).get("type") == "string" else _parsed(answer)
        return _check(value, pending.answer_schema, "the answer")
    if isinstance(answer, str):
        word, _, reason = answer.strip().partition(":")
        if word.strip().lower() in APPROVALS and not reason:
            return Review(action="approve", value=pending.value).model_dump(mode="json")
        if word.strip().lower() in REJECTIONS:
            return Review(action="reject", reason=reason.strip()).model_dump(mode="json")
    edited = _check(_parsed(answer), pending.answer_schema, "the edit")
    return Review(action="edit", value=edited).model_dump(mode="json")


def pending_questions(snapshot: Any) -> list[PendingQuestion]:
    """The questions a checkpointed run waits on (LangGraph `StateSnapshot.interrupts`)."""
    questions = []
    for item in getattr(snapshot, "interrupts", ()) or ():
        value = item.value if isinstance(item.value, dict) else {"question": str(item.value)}
        questions.append(PendingQuestion.model_validate({"node": "", **value, "id": item.id}))
    return questions


__all__ = [
    "NOT_FOR_IT",
    "PendingQuestion",
    "Review",
    "ask",
    "checked_answer",
    "pending_questions",
    "relay",
    "reply_to",
    "review",
]

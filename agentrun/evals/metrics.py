"""Scores of question answering: exact match, token F1 (SQuAD-style), answer containment and
abstention.

An answer of None means the system abstained; a question whose gold list is empty has no answer
in its context, so abstaining is the right reply and any answer is wrong. Text is compared after
`agentrun.graphs.long_doc.normalize_answer` (lower case, no punctuation, articles or extra
spaces), against every gold answer, keeping the best score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentrun.graphs.long_doc import normalize_answer

#: A raw proposal recalls a gold sentence when it holds at least this share of its words (high
#: enough that a distractor of the same shape, e.g. "The harbour of X is named Y.", does not).
RECALL_COVERAGE = 0.8


def exact_match(prediction: str | None, golds: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals a normalized gold answer (or both abstain)."""
    if not golds or prediction is None:
        return float(not golds and prediction is None)
    predicted = normalize_answer(prediction)
    return float(any(predicted == normalize_answer(gold) for gold in golds))


def holds_words(text: str, phrase: str) -> bool:
    """Whether the normalized `phrase` appears in the normalized `text` as whole words."""
    return f" {normalize_answer(phrase)} " in f" {normalize_answer(text)} "


def contains_answer(prediction: str | None, golds: Sequence[str]) -> float:
    """1.0 when a normalized gold answer appears, as whole words, in the normalized prediction.

    Lenient on purpose: small models answer in sentences ("The bridge opened in 1971."), which
    exact match scores 0 however right they are. Abstention scores as in exact match.
    """
    if not golds or prediction is None:
        return float(not golds and prediction is None)
    return float(any(holds_words(prediction, gold) for gold in golds if gold.strip()))


def _token_f1(prediction: str, gold: str) -> float:
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = Counter(predicted) & Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str | None, golds: Sequence[str]) -> float:
    """Best token-overlap F1 against the gold answers; abstention scores like exact match."""
    if not golds or prediction is None:
        return float(not golds and prediction is None)
    return max(_token_f1(prediction, gold) for gold in golds)


def abstention_correct(prediction: str | None, golds: Sequence[str]) -> bool:
    """Whether the system abstained exactly when the context holds no answer."""
    return (prediction is None) == (not golds)


def covers(proposal: str, gold_sentence: str) -> bool:
    """Whether a proposed fact (raw, unverified text) recalls a gold evidence sentence: it holds
    at least `RECALL_COVERAGE` of the sentence's normalized words.

    A bare answer span ("Kellport") recalls nothing by this measure: with answer-span prompting
    the raw proposals are not sentences, and only recall after verification is comparable.
    """
    gold = normalize_answer(gold_sentence).split()
    said = normalize_answer(proposal).split()
    if not gold or not said:
        return False
    shared = sum((Counter(gold) & Counter(said)).values())
    return shared / len(gold) >= RECALL_COVERAGE


def carries(unit: str, gold_sentence: str) -> bool:
    """Whether a communication unit holds a gold sentence word for word (after normalization):
    true of a verified quote of it, false of a restatement or a distractor of the same shape."""
    return bool(normalize_answer(gold_sentence)) and holds_words(unit, gold_sentence)


def gold_along_chain(units: Sequence[str], gold_sentences: Sequence[str]) -> dict[str, int]:
    """How far the gold facts got down a chain of agents: written into some worker's unit
    (`captured`), and still in the last one, which is all the manager reads (`reached_manager`).
    A fact captured but not reached was lost on the way (evicted or cut to fit `cu_tokens`)."""
    last = units[-1] if units else ""
    return {
        "gold": len(gold_sentences),
        "captured": sum(any(carries(unit, gold) for unit in units) for gold in gold_sentences),
        "reached_manager": sum(carries(last, gold) for gold in gold_sentences),
    }


def overlaps(start: int, end: int, gold_start: int, gold_end: int) -> bool:
    """Whether a kept span covers at least half of a gold span (offsets in the same text)."""
    shared = min(end, gold_end) - max(start, gold_start)
    return gold_end > gold_start and shared * 2 >= gold_end - gold_start


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 4) if items else None


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate scored result rows (see `long_doc_qa.score_row`) into one line of a report.

    Rows with an `error` count as errors and are left out of the accuracy figures, so a crash
    is never scored as an abstention.
    """
    done = [row for row in rows if not row.get("error")]
    absent = [row for row in done if not row["answers"]]
    present = [row for row in done if row["answers"]]
    usage = [row.get("usage") or {} for row in done]
    summary: dict[str, Any] = {
        "items": len(rows),
        "scored": len(done),
        "errors": len(rows) - len(done),
        "em": _mean(row["em"] for row in done),
        "f1": _mean(row["f1"] for row in done),
        "contains": _mean(row.get("contains", 0.0) for row in done),
        "abstention_accuracy": _mean(float(row["abstention_correct"]) for row in done),
        "abstained_when_absent": _mean(float(row["answer"] is None) for row in absent),
        "abstained_when_present": _mean(float(row["answer"] is None) for row in present),
        "prompt_tokens": sum(int(u.get("prompt_tokens", 0)) for u in usage),
        "completion_tokens": sum(int(u.get("completion_tokens", 0)) for u in usage),
        "calls": sum(int(u.get("model_calls", 0)) for u in usage),
        "cost_usd": round(sum(float(u.get("cost_usd", 0.0)) for u in usage), 6),
        "latency_s": round(sum(float(row.get("wall_s", 0.0)) for row in done), 2),
    }
    summary["mean_latency_s"] = (
        round(summary["latency_s"] / len(done), 2) if done else None  # per item, wall clock
    )
    evidence = [row["evidence"] for row in done if row.get("evidence")]
    if evidence:
        summary["evidence"] = summarize_evidence(evidence)
    chains = [
        row["details"]["gold_chain"] for row in done if row.get("details", {}).get("gold_chain")
    ]
    if chains:
        summary["gold_chain"] = {
            key: sum(int(chain[key]) for chain in chains)
            for key in ("gold", "captured", "reached_manager")
        }
    return summary


def summarize_evidence(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Extraction figures of retrieve-then-reason runs: hallucination, re-ask, gold recall."""
    proposed = sum(int(row["proposed"]) for row in rows)
    not_found = sum(int(row["not_found"]) for row in rows)
    recovered = sum(int(row["recovered"]) for row in rows)
    gold = sum(int(row["gold"]) for row in rows)
    return {
        "proposed": proposed,
        "not_found": not_found,
        "hallucinated_rate": round(not_found / proposed, 4) if proposed else None,
        "recovered_by_reask": recovered,
        "reask_recovery_rate": round(recovered / not_found, 4) if not_found else None,
        "paraphrased": sum(int(row.get("paraphrased", 0)) for row in rows),
        "dropped": sum(int(row["dropped"]) for row in rows),
        "kept": sum(int(row["kept"]) for row in rows),
        "facts_not_in_source": sum(int(row.get("facts_not_in_source", 0)) for row in rows),
        "gold_facts": gold,
        "gold_recall_raw": (
            round(sum(int(row["gold_recalled_raw"]) for row in rows) / gold, 4) if gold else None
        ),
        "gold_recall_verified": (
            round(sum(int(row["gold_recalled_verified"]) for row in rows) / gold, 4)
            if gold
            else None
        ),
    }

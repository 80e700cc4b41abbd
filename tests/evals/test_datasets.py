"""The seeded generator and the LongBench / HotpotQA loaders, on small files written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrun.agents.tokens import count_cl100k
from agentrun.errors import InputFileError
from agentrun.evals.datasets import length_bucket, load_dataset, load_hotpotqa, load_longbench
from agentrun.evals.synthetic import generate


def test_the_generator_is_deterministic_per_seed() -> None:
    first = generate([512, 2048], 3, seed=7, count=count_cl100k)
    again = generate([512, 2048], 3, seed=7, count=count_cl100k)
    other = generate([512, 2048], 3, seed=8, count=count_cl100k)
    assert [i.model_dump() for i in first] == [i.model_dump() for i in again]
    assert [i.context for i in first] != [i.context for i in other]
    assert [i.question for i in first] != [i.question for i in other]


def test_generated_items_have_their_facts_at_their_depths_and_fit_the_length() -> None:
    items = generate([2048, 8192], 3, seed=1, count=count_cl100k)
    assert [i.kind for i in items] == ["single", "multi_hop", "absent"] * 2
    for item in items:
        assert 0.85 * item.target_tokens <= item.tokens <= item.target_tokens
        assert item.tokens == count_cl100k(item.context)
        for evidence, depth in zip(item.evidence, item.depths, strict=True):
            assert item.context[evidence.start : evidence.end] == evidence.text
            assert abs(evidence.start / len(item.context) - depth) < 0.15
        if item.kind == "absent":
            assert item.answers == [] and item.evidence == []
        else:
            assert any(item.answers[0] in evidence.text for evidence in item.evidence)
    multi = [i for i in items if i.kind == "multi_hop"]
    assert all(len(i.evidence) == 2 and abs(i.depths[0] - i.depths[1]) == 0.5 for i in multi)


def test_absent_entities_never_occur_and_distractors_share_the_fact_shape() -> None:
    for seed in range(6):
        item = generate([2048], 3, seed=seed, count=count_cl100k)[2]
        assert item.kind == "absent"
        named = [w for w in item.question.rstrip("?").replace("'s", "").split() if w.istitle()]
        invented = [w for w in named[1:] if w not in {"In", "What", "Which", "The"}]
        assert invented and not any(word in item.context for word in invented)
    single = generate([8192], 1, seed=3, count=count_cl100k)[0]
    shape = single.evidence[0].text.split()[-3]  # e.g. "called", "town", "named"
    assert single.context.count(f" {shape} ") >= 2  # the fact and distractors alike


def test_longbench_jsonl_loads_and_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "lb.jsonl"
    rows = [
        {
            "_id": "a1",
            "context": "Saltmere has a harbour. " * 50,
            "input": "What?",
            "answers": ["x"],
        },
        {"context": "Short.", "input": "Who?", "answers": ["y", ""]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    items = load_longbench(path, count=count_cl100k)
    assert [i.id for i in items] == ["a1", "lb-2"]
    assert items[1].answers == ["y"]
    assert items[0].kind == "longbench" and items[0].tokens == count_cl100k(rows[0]["context"])
    assert items[0].target_tokens == length_bucket(items[0].tokens) == 1024
    assert load_dataset(path)[0].question == "What?"  # format detected

    path.write_text(json.dumps(rows[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"lb\.jsonl:2: not valid JSON"):
        load_longbench(path)
    path.write_text(json.dumps({**rows[0], "answers": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"lb\.jsonl:1: field 'answers' must be a list"):
        load_longbench(path)
    path.write_bytes(json.dumps(rows[0]).replace("harbour", "h\u00e4rbour").encode("latin-1"))
    with pytest.raises(InputFileError, match=r"lb\.jsonl: is not UTF-8"):
        load_longbench(path)
    assert load_longbench(path, encoding="latin-1")[0].context.startswith("Saltmere has a h\u00e4")


def test_hotpotqa_supporting_facts_become_gold_evidence(tmp_path: Path) -> None:
    record = {
        "_id": "hp1",
        "question": "Which harbour town did the keeper of the light come from?",
        "answer": "Saltmere",
        "supporting_facts": [["Maren Holt", 1], ["Saltmere light", 0], ["Saltmere light", 9]],
        "context": [
            ["Maren Holt", ["Maren Holt was a lighthouse keeper.", " She came from Saltmere."]],
            ["Saltmere light", ["The Saltmere light was lit in 1887.", " It is white."]],
            ["Ardfen", ["Ardfen is inland."]],
        ],
    }
    path = tmp_path / "hotpot.json"
    path.write_text(json.dumps([record]), encoding="utf-8")
    (item,) = load_dataset(path)
    assert item.kind == "hotpotqa" and item.answers == ["Saltmere"]
    assert [e.text for e in item.evidence] == [
        "She came from Saltmere.",
        "The Saltmere light was lit in 1887.",
    ]  # the fact pointing past the paragraph's end is skipped
    for evidence in item.evidence:
        assert item.context[evidence.start : evidence.end] == evidence.text
    assert item.context.startswith("Maren Holt\nMaren Holt was a lighthouse keeper. She came")

    path.write_text(json.dumps([{**record, "context": "oops"}]), encoding="utf-8")
    with pytest.raises(InputFileError, match=r"hotpot\.json item 0: field 'context'"):
        load_hotpotqa(path)
    (tmp_path / "other.json").write_text('[{"text": 1}]', encoding="utf-8")
    with pytest.raises(InputFileError, match="pass --format"):
        load_dataset(tmp_path / "other.json")

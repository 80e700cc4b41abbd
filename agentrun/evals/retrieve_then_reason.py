"""The retrieve-then-reason eval: verified facts against unverified two-stage prompting and
direct answering, on the long-document QA items (generated, or LongBench / HotpotQA files).

It is the long-document QA runner with these three strategies; its report adds, per strategy,
the raw extraction's hallucinated-fact rate (first-pass quotes not found in the source), the
share of those the re-ask recovered, and gold-fact recall before and after verification where
gold evidence is known (the generator's planted facts, HotpotQA's `supporting_facts`).
"""

from __future__ import annotations

from typing import Any

from agentrun.evals.long_doc_qa import EvalSettings

NAME = "retrieve-then-reason"
STRATEGIES = ("rtr", "rtr-unverified", "direct")
DEFAULT_LENGTHS = (4096, 16384)


def settings(**options: Any) -> EvalSettings:
    """Settings of this eval; any `EvalSettings` field may be overridden."""
    options.setdefault("strategies", list(STRATEGIES))
    options.setdefault("lengths", list(DEFAULT_LENGTHS))
    return EvalSettings(eval=NAME, **options)


def evidence_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per strategy: extraction figures beside answer quality and cost."""
    rows = []
    for strategy, summary in report["summary"].items():
        evidence = summary.get("evidence") or {}
        rows.append(
            {
                "strategy": strategy,
                "em": summary["em"],
                "f1": summary["f1"],
                "proposed": evidence.get("proposed"),
                "hallucinated_rate": evidence.get("hallucinated_rate"),
                "reask_recovery_rate": evidence.get("reask_recovery_rate"),
                "paraphrased": evidence.get("paraphrased"),
                "gold_recall_raw": evidence.get("gold_recall_raw"),
                "gold_recall_verified": evidence.get("gold_recall_verified"),
                "prompt_tokens": summary["prompt_tokens"],
                "completion_tokens": summary["completion_tokens"],
            }
        )
    return rows

"""Tokens per cl100k_base token for the tokenizers on this machine, by kind of text.

The gateway estimates an unknown model's tokens as cl100k_base tokens times
`tokens_per_cl100k` (default `DEFAULT_TOKENS_PER_CL100K`). This measures that ratio for every
tokenizer that can be run offline here: the embedded SmolLM2's GGUF vocabulary (49k BPE),
Claude 2's tokenizer (65k BPE, shipped with LiteLLM), GPT-3's p50k_base (50k) and GPT-4o's
o200k_base (tiktoken files shipped with LiteLLM) and MiniLM's 30k WordPiece, on English prose
(the demo document), technical English (README.md), Python code (agentrun's own), and the
LongBench-Write prompts in English and Chinese.

    .venv/bin/python benchmarks/token_ratio.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from agentrun.agents.tokens import (
    DEFAULT_TOKENS_PER_CL100K,
    count_cl100k,
    litellm_tokenizer_dir,
    tokenizer_file,
)

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ROOT / "agentrun" / "evals" / "data" / "longbench_write" / "longbench_write.jsonl"


def texts() -> dict[str, str]:
    prompts = [json.loads(line)["prompt"] for line in PROMPTS.read_text("utf-8").splitlines()]
    chinese = [p for p in prompts if any("\u4e00" <= ch <= "\u9fff" for ch in p)]
    english = [p for p in prompts if p not in chinese]
    code = sorted((ROOT / "agentrun").rglob("*.py"))
    return {
        "English prose (demo)": (ROOT / "agentrun/data/demo/harbor_town.md").read_text("utf-8"),
        "technical English (README)": (ROOT / "README.md").read_text("utf-8"),
        "Python code (agentrun)": "\n".join(p.read_text("utf-8") for p in code),
        "prompts, English": "\n".join(english),
        "prompts, Chinese": "\n".join(chinese),
    }


def tiktoken_counter(name: str) -> Callable[[str], int]:
    """A tiktoken encoding read from the BPE files LiteLLM ships (tiktoken finds them by the
    hash of their URL, which is how LiteLLM names them)."""
    import tiktoken

    os.environ["TIKTOKEN_CACHE_DIR"] = str(litellm_tokenizer_dir())  # this process only
    encoding = tiktoken.get_encoding(name)
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def tokenizers() -> dict[str, Callable[[str], int]]:
    from agentrun.agents.local import default_model_path
    from agentrun.memory.minilm import model_dir

    claude = litellm_tokenizer_dir() / "anthropic_tokenizer.json"
    return {
        "SmolLM2 (GGUF, 49k)": tokenizer_file(default_model_path()).count_text,
        "Claude 2 (65k)": tokenizer_file(str(claude)).count_text,
        "GPT-3 p50k_base": tiktoken_counter("p50k_base"),
        "GPT-4o o200k_base": tiktoken_counter("o200k_base"),
        "MiniLM WordPiece (30k)": tokenizer_file(str(model_dir() / "tokenizer.json")).count_text,
    }


def main() -> None:
    samples = texts()
    counters = tokenizers()
    width = max(map(len, counters)) + 2
    print(f"tokens per cl100k_base token (the estimate uses {DEFAULT_TOKENS_PER_CL100K})")
    print(" " * width + "".join(f"{name[:26]:>28}" for name in samples))
    base = {name: count_cl100k(text) for name, text in samples.items()}
    print(f"{'cl100k_base tokens':<{width}}" + "".join(f"{base[n]:>28,}" for n in samples))
    for label, count in counters.items():
        ratios = [count(text) / base[name] for name, text in samples.items()]
        print(f"{label:<{width}}" + "".join(f"{r:>28.3f}" for r in ratios))


if __name__ == "__main__":
    main()

"""Chain of agents in agentrun against the same strategy written by hand and in its peers.

One process, one loopback fake model server (its own process, 50 ms per reply by default), one
generated document of about 99,000 cl100k tokens with one fact in it, and one question. Each
strategy reads the document chunk by chunk, passing on what it found so far, then asks for the
answer; the hand-written ones use agentrun's own prompts (`agentrun.graphs.chain_of_agents.
prompts`), so that only the machinery around the calls differs. With its defaults agentrun gives
a model other than the embedded one the paper's summary workers (`cu_format: auto`); the
evidence mode (workers citing numbered sentences, the embedded model's default) is measured too,
against a hand loop with the same prompts:

- `hand loop`: a loop written by hand on raw `litellm.acompletion` (the baseline, 1.00), with
  summary workers, and again with evidence workers;
- `agentrun`: `ChainOfAgents` with its defaults (persistent memory store, SQLite checkpoints,
  response cache) in a fresh data directory per run, as a first run meets them; and with
  `cu_format: evidence`;
- `langgraph`: a bare LangGraph graph (one node looping over the chunks, no checkpointer), in
  both modes;
- `llamaindex refine` / `llamaindex tree_summarize`: LlamaIndex's response synthesizers, when
  llama-index-core is installed (the locked `bench` extra: `.venv/bin/pip install --no-deps
  --require-hashes -r requirements-bench.lock`), else skipped with a note.

Repetitions are interleaved (each round runs every strategy once, in a rotating order), so that
the load of the machine hits all alike; the table gives medians and each strategy's median
ratio to the hand loop with its prompts within a round. Then the gateway's own cost per call
against raw LiteLLM and the openai SDK (`gateway_overhead.py`). `--json FILE` writes every
figure.

    .venv/bin/python benchmarks/peers.py [--rounds 5] [--latency-ms 50] [--json peers.json]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentrun.agents import Gateway, GatewayConfig, ModelConfig, roles
from agentrun.agents._litellm import litellm
from agentrun.agents.tokens import cl100k, count_cl100k
from agentrun.graphs.chain_of_agents import ChainOfAgents, ChainOfAgentsConfig, CuFormat, prompts
from agentrun.graphs.chain_of_agents.budgets import SAFETY_TOKENS
from agentrun.text.quotes import number_sentences

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway_overhead  # the per-call comparison, shared
from gateway_overhead import start_server as start_gateway_server

#: The one fact the question asks about, and its answer.
NEEDLE = "The Wend Bridge over the harbour was opened in the year 1887 by the eleven families."
QUESTION = "In what year was the Wend Bridge opened?"
ANSWER = "1887"
#: The context window the fake model declares (the chunk budget follows from it).
WINDOW = 8192
WORDS = [
    "harbour",
    "quay",
    "tide",
    "ledger",
    "merchant",
    "lantern",
    "rope",
    "sail",
    "timber",
    "granary",
    "chapel",
    "mill",
    "orchard",
    "ferry",
    "toll",
    "warden",
    "council",
    "archive",
    "ridge",
    "meadow",
    "cart",
    "bell",
    "salt",
    "herring",
    "net",
    "anchor",
    "gull",
    "storm",
    "beacon",
    "cellar",
    "cooper",
    "weaver",
    "smith",
    "pier",
    "causeway",
    "estuary",
    "marsh",
    "frost",
    "harvest",
]


# --- the document and the server ------------------------------------------------------------


def generated_document(tokens: int, seed: int = 7) -> str:
    """Paragraphs of plain sentences, about `tokens` cl100k tokens, the needle in the middle."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    size = 0
    while size < tokens:
        sentences = []
        for _ in range(rng.randint(3, 7)):
            words = rng.choices(WORDS, k=rng.randint(8, 18))
            sentences.append(" ".join(words).capitalize() + ".")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += round(len(paragraph) / 4.95)  # about right for this vocabulary; checked below
    paragraphs.insert(len(paragraphs) // 2, NEEDLE)
    return "\n\n".join(paragraphs)


def reply_to(body: dict[str, Any]) -> str:
    """The fake model: an evidence worker cites the needle's sentence by its number when its text
    holds it, and the manager answers citing the fact that holds it; other prompts (summary
    workers, their manager, LlamaIndex's) get the answer plainly once they hold it."""
    content = str(body["messages"][-1]["content"])
    numbered = [line for line in content.splitlines() if line.startswith("[") and NEEDLE in line]
    if numbered and ("one numbered sentence per line" in content or "Answer with" in content):
        return f"{ANSWER} {numbered[0].split()[0]}"
    # a summary worker keeps the answer once it has seen the needle (its summary holds it)
    return ANSWER if NEEDLE in content or ANSWER in content else roles.NONE


def serve(latency_s: float) -> None:
    """(child) Serve the fake model until killed, printing its URL."""
    import threading

    from agentrun.agents.fake_server import FakeOpenAIServer

    server = FakeOpenAIServer(reply=reply_to, latency_s=latency_s)
    server._record = False  # a long benchmark must not grow memory
    server.start()
    print(server.url, flush=True)
    threading.Event().wait()


def start_server(latency_s: float) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(latency_s)], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    return process, process.stdout.readline().decode().strip()


# --- the strategies ---------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    calls: int
    prompt_tokens: int
    answer: str | None


@dataclass
class Bench:
    url: str
    document: str
    document_tokens: int
    data_root: Path
    calls: list[int] = field(default_factory=list)

    def model_config(self) -> ModelConfig:
        # The fake server counts with cl100k_base, so the model's tokens are cl100k tokens.
        return ModelConfig(
            model="openai/fake", api_base=self.url, context_window=WINDOW, tokens_per_cl100k=1.0
        )

    def hand_chunk_tokens(self, config: ChainOfAgentsConfig) -> int:
        """The chunk size agentrun plans, worked out by hand with cl100k_base."""
        if config.cu_format == "evidence":
            empty = prompts.evidence_worker(QUESTION, "", "", "part 1 of 1")
            output = config.worker_max_tokens
        else:
            empty = prompts.summary_worker(QUESTION, "", "", "part 1 of 1")
            output = config.cu_tokens
        overhead = count_cl100k("".join(str(m["content"]) for m in empty)) + 4 * len(empty) + 3
        return WINDOW - overhead - config.cu_tokens - output - SAFETY_TOKENS

    def hand_chunks(self, config: ChainOfAgentsConfig) -> list[str]:
        """The document's sentences packed by hand into chunks that fit the chunk size as the
        worker's prompt shows them: one `[id] sentence` line each for evidence workers, the
        plain text for summary workers (sentences counted with the space before them, then
        each chunk counted whole, and its last sentences moved on while it is over)."""
        spans = number_sentences(self.document).spans
        evidence = config.cu_format == "evidence"
        shown = "[100] {}\n" if evidence else " {}"
        lines = [shown.format(self.document[start:end]) for start, end in spans]
        sizes = [len(ids) for ids in cl100k().encode_ordinary_batch(lines)]
        budget, chunks, first, used = self.hand_chunk_tokens(config), [], 0, 0

        def fitted(end: int) -> int:
            """Where the chunk from `first` ends (exclusive) once counted whole."""
            while not evidence and end - 1 > first and count_cl100k(
                self.document[spans[first][0] : spans[end - 1][1]]
            ) > budget:  # fmt: skip
                end -= 1
            return end

        for index, size in enumerate(sizes):
            if used and used + size > budget:
                end = fitted(index)
                chunks.append(self.document[spans[first][0] : spans[end - 1][1]])
                first, used = end, sum(sizes[end:index])
            used += size
        while first < len(spans):
            end = fitted(len(spans))
            chunks.append(self.document[spans[first][0] : spans[end - 1][1]])
            first = end
        return chunks


def cited(reply: str, chunk: str) -> list[str]:
    """The chunk's sentences a worker's reply cites by number."""
    numbered = number_sentences(chunk)
    found = [numbered.sentence(int(n)) for n in re.findall(r"\[(\d+)\]", reply)]
    return [sentence for sentence in found if sentence]


def facts_of(evidence: list[str]) -> str:
    return "\n".join(f"[{i}] {quote}" for i, quote in enumerate(evidence, 1))


def mode_config(cu_format: CuFormat) -> ChainOfAgentsConfig:
    """The settings every strategy of one mode shares (the model is the fake one, not local)."""
    return ChainOfAgentsConfig(model="fake", cu_format=cu_format)


async def hand_loop(bench: Bench, cu_format: CuFormat = "free") -> Outcome:
    """Chain of agents written by hand on raw `litellm.acompletion`: evidence workers citing
    sentences by number, or summary workers passing a running summary on."""
    config = mode_config(cu_format)
    lm = litellm()
    started = time.perf_counter()
    chunks = bench.hand_chunks(config)
    calls = prompt_tokens = 0

    async def ask(messages: list[Any], max_tokens: int) -> str:
        nonlocal calls, prompt_tokens
        reply = await lm.acompletion(
            model="openai/fake", api_base=bench.url, api_key="none", messages=messages,
            max_tokens=max_tokens, temperature=0.0,
        )  # fmt: skip
        calls += 1
        prompt_tokens += reply.usage.prompt_tokens
        return str(reply.choices[0].message.content or "")

    if cu_format == "free":
        summary = ""
        for index, chunk in enumerate(chunks):
            position = f"part {index + 1} of {len(chunks)}"
            messages = prompts.summary_worker(QUESTION, summary, chunk, position)
            summary = (await ask(messages, config.cu_tokens)).strip()
        reply = await ask(prompts.manager_messages(QUESTION, summary), config.answer_max_tokens)
        return Outcome(time.perf_counter() - started, calls, prompt_tokens,
                       roles.parse_answer(reply))  # fmt: skip
    evidence: list[str] = []
    for index, chunk in enumerate(chunks):
        position = f"part {index + 1} of {len(chunks)}"
        messages = prompts.evidence_worker(QUESTION, facts_of(evidence), chunk, position)
        reply = await ask(messages, config.worker_max_tokens)
        evidence += [q for q in cited(reply, chunk) if q not in evidence]
    answer = None
    if evidence:
        messages = prompts.manager_messages(QUESTION, facts_of(evidence), citing=True)
        answer = roles.parse_cited_answer(await ask(messages, config.answer_max_tokens)).answer
    return Outcome(time.perf_counter() - started, calls, prompt_tokens, answer)


async def agentrun_defaults(bench: Bench, cu_format: CuFormat = "auto") -> Outcome:
    """`ChainOfAgents` with its defaults (`cu_format` aside), in a data directory of its own (a
    first run). `auto` gives the fake model, which is not the embedded one, summary workers."""
    data_dir = Path(tempfile.mkdtemp(dir=bench.data_root))
    started = time.perf_counter()
    async with Gateway(
        GatewayConfig(models={"fake": bench.model_config()}), data_dir=data_dir
    ) as gw:
        config = ChainOfAgentsConfig(model="fake", cu_format=cu_format)
        flow = ChainOfAgents(config, gateway=gw, data_dir=data_dir)
        result = await flow.arun(bench.document, QUESTION)
    seconds = time.perf_counter() - started
    usage = result.usage
    return Outcome(seconds, usage["model_calls"], usage["prompt_tokens"], result.answer)


async def langgraph_loop(bench: Bench, cu_format: CuFormat = "free") -> Outcome:
    """The hand loop as a bare LangGraph graph: a worker node looping over the chunks, then a
    manager node (no checkpointer, no store)."""
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        chunks: list[str]
        step: int
        evidence: list[str]
        summary: str
        answer: str | None
        calls: int
        prompt_tokens: int

    config = mode_config(cu_format)
    lm = litellm()

    async def ask(messages: list[Any], max_tokens: int) -> tuple[str, int]:
        reply = await lm.acompletion(
            model="openai/fake", api_base=bench.url, api_key="none", messages=messages,
            max_tokens=max_tokens, temperature=0.0,
        )  # fmt: skip
        return str(reply.choices[0].message.content or ""), int(reply.usage.prompt_tokens)

    async def worker(state: State) -> dict[str, Any]:
        chunk, step = state["chunks"][state["step"]], state["step"]
        position = f"part {step + 1} of {len(state['chunks'])}"
        if cu_format == "free":
            messages = prompts.summary_worker(QUESTION, state["summary"], chunk, position)
            reply, tokens = await ask(messages, config.cu_tokens)
            return {
                "step": step + 1, "summary": reply.strip(),
                "calls": state["calls"] + 1, "prompt_tokens": state["prompt_tokens"] + tokens,
            }  # fmt: skip
        messages = prompts.evidence_worker(QUESTION, facts_of(state["evidence"]), chunk, position)
        reply, tokens = await ask(messages, config.worker_max_tokens)
        found = [q for q in cited(reply, chunk) if q not in state["evidence"]]
        return {
            "step": step + 1, "evidence": state["evidence"] + found,
            "calls": state["calls"] + 1, "prompt_tokens": state["prompt_tokens"] + tokens,
        }  # fmt: skip

    async def manager(state: State) -> dict[str, Any]:
        if cu_format == "free":
            messages = prompts.manager_messages(QUESTION, state["summary"])
            reply, tokens = await ask(messages, config.answer_max_tokens)
            return {"answer": roles.parse_answer(reply), "calls": state["calls"] + 1,
                    "prompt_tokens": state["prompt_tokens"] + tokens}  # fmt: skip
        if not state["evidence"]:
            return {"answer": None}
        messages = prompts.manager_messages(QUESTION, facts_of(state["evidence"]), citing=True)
        reply, tokens = await ask(messages, config.answer_max_tokens)
        return {"answer": roles.parse_cited_answer(reply).answer, "calls": state["calls"] + 1,
                "prompt_tokens": state["prompt_tokens"] + tokens}  # fmt: skip

    graph = StateGraph(State)
    graph.add_node("worker", worker)
    graph.add_node("manager", manager)
    graph.add_edge(START, "worker")
    graph.add_conditional_edges(
        "worker", lambda s: "worker" if s["step"] < len(s["chunks"]) else "manager"
    )
    graph.add_edge("manager", END)
    app = graph.compile()
    started = time.perf_counter()
    chunks = bench.hand_chunks(config)
    first: State = {"chunks": chunks, "step": 0, "evidence": [], "summary": "",
                    "answer": None, "calls": 0, "prompt_tokens": 0}  # fmt: skip
    final = await app.ainvoke(first, {"recursion_limit": 10_000})
    seconds = time.perf_counter() - started
    return Outcome(seconds, final["calls"], final["prompt_tokens"], final["answer"])


LLAMA_INDEX = importlib.util.find_spec("llama_index") is not None and (
    importlib.util.find_spec("llama_index.core") is not None
)


def llama_index_synthesizer(mode: str) -> Callable[[Bench], Awaitable[Outcome]]:
    """LlamaIndex's response synthesizer `mode` over the document's chunks (its own splitter),
    on the fake server through `OpenAILike`."""

    async def run(bench: Bench) -> Outcome:
        from llama_index.core import Document, Settings
        from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
        from llama_index.core.node_parser import TokenTextSplitter
        from llama_index.core.response_synthesizers import get_response_synthesizer
        from llama_index.llms.openai_like import OpenAILike

        counter = TokenCountingHandler(tokenizer=cl100k().encode)
        Settings.callback_manager = CallbackManager([counter])
        llm = OpenAILike(
            model="fake", api_base=bench.url, api_key="none", is_chat_model=True,
            context_window=WINDOW, max_tokens=mode_config("free").worker_max_tokens,
        )  # fmt: skip
        started = time.perf_counter()
        splitter = TokenTextSplitter(chunk_size=bench.hand_chunk_tokens(mode_config("free")))
        chunks = splitter.split_text(Document(text=bench.document).text)
        synthesizer = get_response_synthesizer(llm=llm, response_mode=mode)
        response = await synthesizer.aget_response(QUESTION, chunks)
        seconds = time.perf_counter() - started
        calls = len(counter.llm_token_counts)
        return Outcome(seconds, calls, counter.prompt_llm_token_count, str(response))

    return run


HAND_LOOP = "hand loop (raw LiteLLM)"
HAND_LOOP_EVIDENCE = "hand loop, evidence prompts (raw LiteLLM)"
STRATEGIES: dict[str, Callable[[Bench], Awaitable[Outcome]]] = {
    HAND_LOOP: hand_loop,
    "agentrun chain-of-agents, defaults": agentrun_defaults,
    "bare LangGraph loop (raw LiteLLM)": langgraph_loop,
}
if LLAMA_INDEX:
    STRATEGIES["LlamaIndex refine"] = llama_index_synthesizer("refine")
    STRATEGIES["LlamaIndex tree_summarize"] = llama_index_synthesizer("tree_summarize")
#: Evidence mode (what `auto` gives the embedded model), against a hand loop with its prompts.
STRATEGIES[HAND_LOOP_EVIDENCE] = functools.partial(hand_loop, cu_format="evidence")
STRATEGIES["agentrun chain-of-agents, cu_format: evidence"] = functools.partial(
    agentrun_defaults, cu_format="evidence"
)
STRATEGIES["bare LangGraph loop, evidence prompts (raw LiteLLM)"] = functools.partial(
    langgraph_loop, cu_format="evidence"
)


def baseline_of(name: str) -> str:
    """The hand loop a strategy is measured against: the one with the same prompts."""
    return HAND_LOOP_EVIDENCE if "evidence" in name else HAND_LOOP


SKIPPED = (
    None
    if LLAMA_INDEX
    else (
        "LlamaIndex refine / tree_summarize skipped: llama-index-core is not installed "
        "(.venv/bin/pip install --no-deps --require-hashes -r requirements-bench.lock)"
    )
)


# --- running ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


async def compare(bench: Bench, rounds: int) -> dict[str, list[Outcome]]:
    names = list(STRATEGIES)
    results: dict[str, list[Outcome]] = {name: [] for name in names}
    for name in names:  # warm every path once (imports, connection pools), untimed
        await STRATEGIES[name](bench)
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            results[name].append(await STRATEGIES[name](bench))
        line = "  ".join(f"{n.split()[0]} {results[n][-1].seconds:.2f}s" for n in names)
        print(f"round {index + 1}: {line}  load {os.getloadavg()[0]:.1f}", flush=True)
    return results


def table(bench: Bench, results: dict[str, list[Outcome]]) -> list[dict[str, Any]]:
    rows = []
    for name, outcomes in results.items():
        base = results[baseline_of(name)]
        ratios = [o.seconds / b.seconds for o, b in zip(outcomes, base, strict=True)]
        rows.append({
            "strategy": name,
            "model_calls": outcomes[0].calls,
            "prompt_tokens_per_document": outcomes[0].prompt_tokens / bench.document_tokens,
            "median_s": statistics.median(o.seconds for o in outcomes),
            "ratio": statistics.median(ratios),
            "baseline": baseline_of(name),
            "answer": outcomes[0].answer,
        })  # fmt: skip
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| strategy | model calls | prompt tokens / document | median s | vs its hand loop |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['strategy']} | {row['model_calls']} | "
            f"{row['prompt_tokens_per_document']:.3f} | {row['median_s']:.2f} | "
            f"{row['ratio']:.2f} |"
        )


async def main(args: argparse.Namespace) -> dict[str, Any]:
    document = generated_document(args.tokens)
    server, url = start_server(args.latency_ms / 1000)
    try:
        with tempfile.TemporaryDirectory(prefix="agentrun-peers-") as root:
            bench = Bench(url, document, count_cl100k(document), Path(root))
            print(f"document: {bench.document_tokens:,} cl100k tokens; server latency "
                  f"{args.latency_ms:g} ms; {args.rounds} rounds", flush=True)  # fmt: skip
            results = await compare(bench, args.rounds)
            rows = table(bench, results)
    finally:
        server.terminate()
        server.wait()
    print_table(rows)
    if SKIPPED:
        print(SKIPPED)
    print("\nper call, 0 ms server: the gateway against raw LiteLLM and the openai SDK")
    gateway_server, gateway_url = start_gateway_server()
    try:
        calls = await gateway_overhead.measure(
            gateway_url, args.gateway_repeats, 500, 5, 64, echo=False
        )
    finally:
        gateway_server.terminate()
        gateway_server.wait()
    gateway_overhead.print_table(calls)
    return {
        "machine": machine(), "document_tokens": len(cl100k().encode(document)),
        "latency_ms": args.latency_ms, "peers": rows, "skipped": SKIPPED, "per_call": calls,
    }  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(float(sys.argv[2]))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--tokens", type=int, default=99_000)
    parser.add_argument("--gateway-repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments))
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2, default=str))

"""Gateway overhead against raw `litellm.acompletion` and the openai SDK, on one fake server.

The fake OpenAI server runs in its own process at 0 ms latency. Each repeat times 1,000
sequential calls and 20 rounds of 64 concurrent calls through the gateway (cache off, concurrency
limit 64), through raw LiteLLM and through the openai SDK's `AsyncOpenAI`, rotating among the
three every block (50 sequential calls, or one round) so that drift in the machine's load hits
all alike. Prints the time per call of each and the median gateway/raw and gateway/SDK time
ratios per mode over the repeats (`measure` returns them, for `peers.py`).

    .venv/bin/python benchmarks/gateway_overhead.py [--repeats 5] [--sequential 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents._litellm import litellm
from agentrun.agents.local import free_port

MESSAGES = [{"role": "user", "content": "ping"}]
SEQUENTIAL_BLOCK = 50


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agentrun.agents.fake_server", "--port", str(port)],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    url = process.stdout.readline().decode().strip()
    return process, url


async def timed(
    block: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]],
    one: Callable[[], Awaitable[None]],
) -> float:
    started = time.perf_counter()
    await block(one)
    return time.perf_counter() - started


async def measure(
    url: str, repeats: int, sequential: int, rounds: int, width: int, *, echo: bool = True
) -> dict[str, dict[str, float]]:
    """Per mode: milliseconds per call of each client, and the gateway's median ratios."""
    import openai

    lm = litellm()
    raw_params = {
        "model": "openai/fake", "api_base": url, "api_key": "none", "messages": MESSAGES,
        "max_tokens": 16, "temperature": 0.0, "timeout": 60.0, "num_retries": 0, "max_retries": 0,
    }  # fmt: skip
    model = ModelConfig(model="openai/fake", api_base=url, max_concurrency=width, max_tokens=16)
    gateway = Gateway(GatewayConfig(models={"fake": model}), cache=False)
    sdk = openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0, timeout=60.0)

    async def raw_one() -> None:
        await lm.acompletion(**raw_params)

    async def gateway_one() -> None:
        await gateway.acomplete("fake", MESSAGES)

    async def sdk_one() -> None:
        await sdk.chat.completions.create(
            model="fake",
            messages=MESSAGES,
            max_tokens=16,
            temperature=0.0,  # type: ignore[arg-type]
        )

    async def sequential_block(one: Callable[[], Awaitable[None]]) -> None:
        for _ in range(SEQUENTIAL_BLOCK):
            await one()

    async def concurrent_block(one: Callable[[], Awaitable[None]]) -> None:
        await asyncio.gather(*(one() for _ in range(width)))

    plans = {
        "sequential": (sequential_block, max(1, sequential // SEQUENTIAL_BLOCK)),
        "concurrent": (concurrent_block, rounds),
    }
    calls = {"sequential": plans["sequential"][1] * SEQUENTIAL_BLOCK, "concurrent": rounds * width}
    clients = [("raw", raw_one), ("gateway", gateway_one), ("sdk", sdk_one)]
    try:
        for _, one in clients:  # warm every path (imports, connection pools)
            await concurrent_block(one)
        ratios: dict[str, dict[str, list[float]]] = {m: {"raw": [], "sdk": []} for m in plans}
        seconds: dict[str, dict[str, float]] = {m: dict.fromkeys(("raw", "gateway", "sdk"), 0.0)
                                                for m in plans}  # fmt: skip
        for repeat in range(repeats):
            for mode, (block, blocks) in plans.items():
                totals = dict.fromkeys(("raw", "gateway", "sdk"), 0.0)
                for index in range(blocks):
                    shift = (index + repeat) % len(clients)
                    for name, one in clients[shift:] + clients[:shift]:
                        totals[name] += await timed(block, one)
                for name, value in totals.items():
                    seconds[mode][name] += value
                for other in ("raw", "sdk"):
                    ratios[mode][other].append(totals["gateway"] / totals[other])
                if echo:
                    print(
                        f"repeat {repeat + 1} {mode:<10} raw {totals['raw']:.2f} s  "
                        f"gateway {totals['gateway']:.2f} s  sdk {totals['sdk']:.2f} s",
                        flush=True,
                    )
    finally:
        await gateway.aclose()
        await sdk.close()
    figures = {}
    for mode in plans:
        per_call = {f"{name}_ms_per_call": 1000 * value / (calls[mode] * repeats)
                    for name, value in seconds[mode].items()}  # fmt: skip
        figures[mode] = {
            **per_call,
            "gateway_vs_raw": statistics.median(ratios[mode]["raw"]),
            "gateway_vs_sdk": statistics.median(ratios[mode]["sdk"]),
            "calls": float(calls[mode]),
        }
    return figures


def print_table(figures: dict[str, dict[str, float]]) -> None:
    print("| mode | raw LiteLLM ms/call | gateway ms/call | openai SDK ms/call | "
          "gateway / raw | gateway / SDK |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for mode, row in figures.items():
        print(
            f"| {mode} ({row['calls']:.0f} calls) | {row['raw_ms_per_call']:.2f} | "
            f"{row['gateway_ms_per_call']:.2f} | {row['sdk_ms_per_call']:.2f} | "
            f"{row['gateway_vs_raw']:.3f} | {row['gateway_vs_sdk']:.3f} |"
        )


async def main(repeats: int, sequential: int, rounds: int, width: int) -> None:
    server, url = start_server()
    try:
        print_table(await measure(url, repeats, sequential, rounds, width))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--width", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.repeats, args.sequential, args.rounds, args.width))

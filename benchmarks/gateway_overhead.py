"""Gateway overhead against raw `litellm.acompletion`, on the same fake server, in one run.

The fake OpenAI server runs in its own process at 0 ms latency. Each repeat times 1,000
sequential calls and 20 rounds of 64 concurrent calls through the gateway (cache off, concurrency
limit 64) and through raw LiteLLM, alternating between the two every block (50 sequential calls,
or one round) so that drift in the machine's load hits both alike. Prints the median
gateway/raw time ratio per mode over the repeats.

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


async def main(repeats: int, sequential: int, rounds: int, width: int) -> None:
    server, url = start_server()
    lm = litellm()
    raw_params = {
        "model": "openai/fake", "api_base": url, "api_key": "none", "messages": MESSAGES,
        "max_tokens": 16, "temperature": 0.0, "timeout": 60.0, "num_retries": 0, "max_retries": 0,
    }  # fmt: skip
    model = ModelConfig(model="openai/fake", api_base=url, max_concurrency=width, max_tokens=16)
    gateway = Gateway(GatewayConfig(models={"fake": model}), cache=False)

    async def raw_one() -> None:
        await lm.acompletion(**raw_params)

    async def gateway_one() -> None:
        await gateway.acomplete("fake", MESSAGES)

    async def sequential_block(one: Callable[[], Awaitable[None]]) -> None:
        for _ in range(SEQUENTIAL_BLOCK):
            await one()

    async def concurrent_block(one: Callable[[], Awaitable[None]]) -> None:
        await asyncio.gather(*(one() for _ in range(width)))

    plans = {
        "sequential": (sequential_block, max(1, sequential // SEQUENTIAL_BLOCK)),
        "concurrent": (concurrent_block, rounds),
    }

    try:
        for one in (raw_one, gateway_one):  # warm both paths (imports, connection pools)
            await concurrent_block(one)
        ratios: dict[str, list[float]] = {"sequential": [], "concurrent": []}
        for repeat in range(repeats):
            for mode, (block, blocks) in plans.items():
                totals = {"raw": 0.0, "gateway": 0.0}
                for index in range(blocks):
                    pair = [("raw", raw_one), ("gateway", gateway_one)]
                    if (index + repeat) % 2:
                        pair.reverse()
                    for name, one in pair:
                        totals[name] += await timed(block, one)
                ratios[mode].append(totals["gateway"] / totals["raw"])
                print(
                    f"repeat {repeat + 1} {mode:<10} raw {totals['raw']:.2f} s  "
                    f"gateway {totals['gateway']:.2f} s  ratio {ratios[mode][-1]:.3f}",
                    flush=True,
                )
        calls = {
            "sequential": plans["sequential"][1] * SEQUENTIAL_BLOCK,
            "concurrent": rounds * width,
        }
        for mode, values in ratios.items():
            print(f"{mode}: median gateway/raw time ratio {statistics.median(values):.3f} "
                  f"over {repeats} repeats of {calls[mode]} calls each way")  # fmt: skip
    finally:
        await gateway.aclose()
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

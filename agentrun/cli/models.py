"""`agentrun models check MODEL`: one real request, its answer, latency and tokens."""

from __future__ import annotations

import typer

from agentrun.cli._common import console, literal, state

app = typer.Typer(help="Check models.", no_args_is_help=True)


@app.command("check")
def check(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="A LiteLLM name (openai/gpt-4o-mini) or local/smollm2."),
    prompt: str = typer.Option("Say hello in one short sentence.", help="What to send."),
    api_base: str | None = typer.Option(None, help="Endpoint of an OpenAI-compatible server."),
    api_key_env: str | None = typer.Option(None, help="Environment variable holding the key."),
    max_tokens: int = typer.Option(64, min=1, help="Output budget."),
    timeout_s: float = typer.Option(60.0, min=1, help="Seconds before the call gives up."),
) -> None:
    """Send one request (cache off) and print the answer, latency and tokens."""
    from agentrun.agents import Gateway, GatewayConfig, ModelConfig

    config = GatewayConfig()
    if api_base or api_key_env:
        config = GatewayConfig(
            models={model: ModelConfig(model=model, api_base=api_base, api_key_env=api_key_env)}
        )
    with Gateway(config, data_dir=state(ctx).data_dir, cache=False) as gateway:
        completion = gateway.complete(model, prompt, max_tokens=max_tokens, timeout_s=timeout_s)
    out = console()
    out.print(f"model:   {completion.model}")
    out.print(literal(f"answer:  {completion.text.strip()}"))
    out.print(f"latency: {completion.latency_s:.2f} s")
    out.print(
        f"tokens:  {completion.prompt_tokens} prompt + {completion.completion_tokens} completion"
    )
    if completion.cost_usd:
        out.print(f"cost:    ${completion.cost_usd:.6f}")

"""The web UI: static pages and scripts (no build step, nothing fetched from elsewhere) that read
the same API as any client.

`/ui/runs` lists the caller's runs; `/ui/runs/{id}` shows one: its graph (drawn server-side as
SVG, with the Mermaid text beside it), a live timeline of its nodes with tokens, cost and time
(plain SVG, fed by the event stream), the model calls with their messages, and the question a
waiting run asks, with a form that answers it. Text from models and documents is inserted as
text, never as markup, and the pages' Content-Security-Policy allows their own scripts only.
A browser signs in once (`/ui/login`): the token is kept in an HttpOnly, SameSite=Strict cookie.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from agentrun.server.auth import COOKIE, Authenticator

STATIC = Path(__file__).parent / "static"
#: Longest login form accepted (a token is far shorter).
MAX_FORM_BYTES = 4096


def add_pages(app: FastAPI, authenticator: Authenticator) -> None:
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    @app.get("/ui", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/ui/runs")

    def page(request: Request, name: str) -> Response:
        """A page for a signed-in browser; others are sent to sign in first."""
        if authenticator.caller(request.cookies.get(COOKIE)) is None:
            return RedirectResponse("/ui/login", status_code=303)
        return FileResponse(STATIC / name)

    @app.get("/ui/runs", include_in_schema=False)
    def runs_page(request: Request) -> Response:
        return page(request, "runs.html")

    @app.get("/ui/runs/{run_id}", include_in_schema=False)
    def run_page(request: Request, run_id: str) -> Response:
        return page(request, "run.html")

    @app.get("/ui/login", include_in_schema=False)
    def login_page() -> Response:
        return FileResponse(STATIC / "login.html")

    @app.post("/ui/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        body = await request.body()
        token = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace")).get("token", [""])[0]
        if authenticator.caller(token.strip()) is None:
            return RedirectResponse("/ui/login?failed=1", status_code=303)
        response = RedirectResponse("/ui/runs", status_code=303)
        response.set_cookie(
            COOKIE, token.strip(), httponly=True, samesite="strict", path="/",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    @app.post("/ui/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response


__all__ = ["add_pages"]

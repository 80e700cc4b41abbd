"""The HTTP API: `create_app(folder, settings)` serves the folder's pipelines and every registered
workflow. Routes are declared here; what they do lives in `runs` (executing runs), `catalog`
(what may run), `auth` (who calls) and `pages` (the web UI). The OpenAPI page is at `/docs`."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sse_starlette.sse import EventSourceResponse

from agentrun._version import __version__
from agentrun.errors import AgentrunError, AnswerError, UsageError
from agentrun.graphs.base import NO_ANSWER
from agentrun.logs import get_logger
from agentrun.memory.namespaces import parse_namespace
from agentrun.server import pages
from agentrun.server.auth import COOKIE, Authenticator, Caller
from agentrun.server.catalog import Catalog, NotFoundError
from agentrun.server.config import ServerSettings
from agentrun.server.limits import BodyLimit, SecurityHeaders
from agentrun.server.models import (
    DocumentInfoOut,
    Health,
    PipelineInfo,
    ResumeRequest,
    RunRequest,
    RunState,
    SearchHitInfo,
    WorkflowInfo,
)
from agentrun.server.runs import BusyError, ConflictError, RunManager
from agentrun.settings import data_dir as resolve_data_dir
from agentrun.settings import private_dir, write_private

log = get_logger("server")

DOCUMENT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$"
DESCRIPTION = """Runs of agentrun pipelines and workflows over HTTP.

Authenticate with `Authorization: Bearer <token>`. `POST /runs` starts a run and returns its
id at once; `GET /runs/{id}/events` streams its events (Server-Sent Events, replayed from the
start, each `id` the offset to pass as `after` or `Last-Event-ID` to continue); a run that
waits for a person has `status: waiting` and a `question`, answered with
`POST /runs/{id}/resume`.
"""


_bearer = HTTPBearer(auto_error=False, description="The client's token.")


def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The client a request comes from (its bearer token, or the pages' cookie), else 401."""
    authenticator: Authenticator = request.app.state.authenticator
    presented = credentials.credentials if credentials is not None else None
    found = authenticator.caller(presented or request.cookies.get(COOKIE))
    if found is None:
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return found


Client = Annotated[Caller, Depends(current_caller)]
Namespace = Annotated[
    str, Query(description="Labels inside the client's own namespace, e.g. acme/alice.")
]


def create_app(folder: str | Path, settings: ServerSettings | None = None) -> FastAPI:
    """The server app for the pipelines in `folder` (and every registered workflow)."""
    settings = settings or ServerSettings()
    root = resolve_data_dir(settings.data_dir)
    catalog = Catalog(Path(folder))
    manager = RunManager(root, settings.max_runs, settings.retry_after_s)
    authenticator = Authenticator(settings.tokens, required=settings.auth)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for run_id in manager.recover():
            log.info("run_interrupted_by_restart", run=run_id)
        await asyncio.to_thread(manager.store)  # chromadb and the embedder load off the loop
        yield
        await manager.aclose()

    app = FastAPI(title="agentrun", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.manager = manager
    app.state.authenticator = authenticator
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        BodyLimit,
        limit_for=lambda path: (
            settings.max_document_bytes if path == "/memory/documents" else settings.max_body_bytes
        ),
    )
    _errors(app)

    @app.get("/healthz", tags=["server"])
    def healthz() -> Health:
        """Whether the server is up, and how many runs execute."""
        return Health(version=__version__, active_runs=len(manager.tasks),
                      max_runs=manager.max_runs)  # fmt: skip

    @app.get("/pipelines", tags=["catalog"])
    def list_pipelines(_: Client) -> list[PipelineInfo]:
        """The pipelines this server runs (the folder it serves), with their inputs."""
        return catalog.pipeline_infos()

    @app.get("/workflows", tags=["catalog"])
    def list_workflows(_: Client) -> list[WorkflowInfo]:
        """Every registered workflow, with the JSON Schema of its inputs and config."""
        return catalog.workflow_infos()

    @app.post("/runs", status_code=202, tags=["runs"], responses=_RESPONSES)
    async def start_run(request: RunRequest, client: Client) -> RunState:
        """Start a run in the background; its id comes back at once."""
        return manager.start(catalog.for_request(request, client), request, client)

    @app.get("/runs", tags=["runs"])
    def list_runs(client: Client) -> list[RunState]:
        """This client's runs, newest first."""
        return manager.runs(client)

    @app.get("/runs/{run_id}", tags=["runs"], responses=_RESPONSES)
    def get_run(run_id: str, client: Client) -> RunState:
        """A run's status, its pending question, its outputs once done."""
        return manager.state(run_id, client)

    @app.get(
        "/runs/{run_id}/events",
        tags=["runs"],
        response_class=EventSourceResponse,
        responses={
            200: {
                "description": "Server-Sent Events: each `event` is an event kind (node_started, "
                "node_finished, token, model_call, tool_call, checkpoint, interrupt, result) "
                "and its `data` the event as JSON; the stream ends with an `end` event whose "
                "data holds the run's status and error.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **_RESPONSES,
        },
    )
    async def stream_events(
        run_id: str,
        client: Client,
        after: Annotated[int, Query(ge=0, description="Continue after this offset.")] = 0,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> EventSourceResponse:
        """The run's events from the start (or after an offset), then live while it runs."""
        manager.owned(run_id, client)
        start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after

        async def messages() -> AsyncIterator[dict[str, str]]:
            async for end, line in manager.follow(run_id, client, start):
                yield {"id": str(end), "event": json.loads(line).get("kind", "event"),
                       "data": line}  # fmt: skip
            state = manager.state(run_id, client)
            yield {"event": "end",
                   "data": json.dumps({"status": state.status, "error": state.error})}  # fmt: skip

        return EventSourceResponse(messages(), ping=15)

    @app.post("/runs/{run_id}/resume", status_code=202, tags=["runs"], responses=_RESPONSES)
    async def resume_run(
        run_id: str, client: Client, body: Annotated[ResumeRequest | None, Body()] = None
    ) -> RunState:
        """Continue a waiting (with `answer`), failed or interrupted run from its checkpoint."""
        given = body is not None and "answer" in body.model_fields_set
        return manager.resume(run_id, client, body.answer if body and given else NO_ANSWER)

    @app.post("/runs/{run_id}/cancel", tags=["runs"], responses=_RESPONSES)
    async def cancel_run(run_id: str, client: Client) -> RunState:
        """Stop an executing run; it is left `interrupted` and can be resumed."""
        return manager.cancel(run_id, client)

    @app.get("/runs/{run_id}/graph", tags=["runs"], responses=_RESPONSES)
    def run_graph(run_id: str, client: Client) -> dict[str, str]:
        """The run's graph as Mermaid text."""
        manager.owned(run_id, client)
        return {"mermaid": manager.pipeline_of(run_id).diagram().mermaid()}

    @app.get(
        "/runs/{run_id}/graph.svg",
        tags=["runs"],
        response_class=Response,
        responses={200: {"content": {"image/svg+xml": {}}}, **_RESPONSES},
    )
    def run_graph_svg(run_id: str, client: Client) -> Response:
        """The run's graph, drawn as SVG."""
        manager.owned(run_id, client)
        return Response(manager.pipeline_of(run_id).diagram().svg(), media_type="image/svg+xml")

    # --- memory ------------------------------------------------------------------------------

    @app.post(
        "/memory/documents",
        status_code=201,
        tags=["memory"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "The document's text (UTF-8).",
            }
        },
    )
    async def upload_document(
        request: Request,
        client: Client,
        name: Annotated[str, Query(pattern=DOCUMENT_NAME, description="A file name.")],
        namespace: Namespace = "default",
    ) -> DocumentInfoOut:
        """Add a document to this client's memory (chunked and embedded, as `memory ingest`)."""
        from agentrun.memory.ingest import Ingester

        labels = client.namespace(*parse_namespace(namespace))
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("the document is not UTF-8 text; send it as UTF-8") from None
        key = hashlib.sha256("/".join(labels).encode()).hexdigest()[:16]
        path = write_private(private_dir(root / "uploads" / key) / name, text)
        store = manager.store()  # opened as the server started
        outcome = await Ingester(store, store.embedder, labels).ingest_file(path)
        return DocumentInfoOut(doc_id=outcome.doc_id, name=name, chunks=outcome.chunks,
                               tokens=outcome.tokens)  # fmt: skip

    @app.get("/memory/documents", tags=["memory"])
    async def list_documents(
        client: Client, namespace: Namespace = "default"
    ) -> list[DocumentInfoOut]:
        """The documents in this client's memory."""
        from agentrun.memory.ingest import documents

        labels = client.namespace(*parse_namespace(namespace))
        found = await documents(manager.store(), labels)
        return [
            DocumentInfoOut(
                doc_id=info.doc_id,
                name=Path(info.source).name,
                chunks=info.chunks,
                tokens=info.tokens,
            )
            for info in found
        ]

    @app.get("/memory/search", tags=["memory"])
    async def search_memory(
        client: Client,
        query: Annotated[str, Query(min_length=1, max_length=2000)],
        namespace: Namespace = "default",
        limit: Annotated[int, Query(ge=1, le=50)] = 5,
    ) -> list[SearchHitInfo]:
        """The chunks of this client's memory closest in meaning to `query`."""
        from agentrun.memory.ingest import search

        labels = client.namespace(*parse_namespace(namespace))
        hits = await search(manager.store(), query, namespace=labels, limit=limit)
        return [
            SearchHitInfo(
                score=hit.score,
                text=hit.chunk.text,
                source=Path(hit.chunk.source).name,
                doc_id=hit.chunk.doc_id,
            )
            for hit in hits
        ]

    pages.add_pages(app, authenticator)
    return app


_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token, or a wrong one."},
    404: {"description": "No such run (for this client), pipeline or workflow."},
    409: {"description": "The run's state does not allow it (executing, done, ...)."},
    422: {"description": "Bad input, or an answer refused (the run still waits)."},
    429: {"description": "Too many runs execute; retry after `Retry-After` seconds."},
}


def _errors(app: FastAPI) -> None:
    """agentrun's errors as JSON `{"detail": ...}` with their HTTP status."""

    async def handle(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AgentrunError)
        headers = {}
        if isinstance(exc, BusyError):
            status, headers = 429, {"Retry-After": str(exc.retry_after_s)}
        elif isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, ConflictError):
            status = 409
        elif isinstance(exc, AnswerError | UsageError):
            status = 422
        else:
            status = 400
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    app.add_exception_handler(AgentrunError, handle)


__all__ = ["create_app"]

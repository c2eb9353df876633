"""One Stellate application using every part, served by real servers in tests/servers.

The server imports it as `tests.servers.app:app` with the repository as its working
directory. `STELLATE_SERVERS_DIR` names a directory the test fixture prepared: the app
serves its `static/` folder and writes `startup` and `shutdown` marker files there, so
the fixture can see that the server ran the lifespan both ways.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from stellate.applications import Stellate
from stellate.background import BackgroundTask
from stellate.datastructures import UploadFile
from stellate.exceptions import HTTPException
from stellate.graphql import GraphQL
from stellate.middleware import Middleware
from stellate.middleware.sessions import SessionMiddleware
from stellate.requests import Request
from stellate.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from stellate.routing import Mount, Route, WebSocketRoute
from stellate.staticfiles import StaticFiles
from stellate.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from graphql import GraphQLResolveInfo

    # What a resolver receives: GraphQL's default context is a dict.
    Info = GraphQLResolveInfo[dict[str, Any]]

__all__ = ["app"]

#: Larger bodies get a 413: above the uploads the tests send, far below a memory risk
#: (tests/servers/test_http.py sends one byte more).
MAX_BODY_SIZE = 8 * 1024 * 1024
#: A gated stream waits at most this long for the client to ask for the next chunk,
#: so a broken test never leaves a response hanging in the server.
GATE_TIMEOUT = 10.0

try:
    DATA_DIR = Path(os.environ["STELLATE_SERVERS_DIR"])
except KeyError:
    raise RuntimeError(
        "tests.servers.app is served by the tests/servers fixture, which sets "
        "STELLATE_SERVERS_DIR to a prepared directory."
    ) from None


class AppState(TypedDict):
    """The lifespan state every request and websocket sees (shallow-copied)."""

    pid: int
    broker: Broker
    gates: dict[str, Gate]
    tasks_done: list[str]


class Broker:
    """In-process publish/subscribe for the GraphQL `post` mutation and `posted` events."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._listeners: set[MemoryObjectSendStream[str]] = set()

    def publish(self, text: str) -> None:
        self.messages.append(text)
        for listener in self._listeners:
            # A listener that stopped reading loses events rather than stalling posts.
            with contextlib.suppress(anyio.WouldBlock):
                listener.send_nowait(text)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[str]]:
        send, receive = anyio.create_memory_object_stream[str](16)
        self._listeners.add(send)
        try:
            with receive:
                yield receive
        finally:
            self._listeners.discard(send)
            send.close()


class Gate:
    """Lets a streaming response produce one more chunk each time the client asks."""

    def __init__(self) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[None](16)


@contextlib.asynccontextmanager
async def lifespan(app: Stellate) -> AsyncIterator[AppState]:
    await anyio.Path(DATA_DIR / "startup").write_text(str(os.getpid()))
    yield {"pid": os.getpid(), "broker": Broker(), "gates": {}, "tasks_done": []}
    await anyio.Path(DATA_DIR / "shutdown").write_text(str(os.getpid()))


# -- plain routes ----------------------------------------------------------------------


def health(request: Request) -> PlainTextResponse:
    # A sync endpoint: it runs in a worker thread whatever the server's loop.
    return PlainTextResponse("ok")


async def user(request: Request) -> JSONResponse:
    user_id: int = request.path_params["user_id"]
    return JSONResponse(
        {
            "id": user_id,
            "url": str(request.url_for("user", user_id=user_id)),
            "query": dict(request.query_params),
        }
    )


async def item(request: Request) -> JSONResponse:
    name: str = request.path_params["name"]
    return JSONResponse(
        {
            "name": name,
            "path": request.url.path,
            "root_path": request.scope.get("root_path", ""),
            "url": str(request.url_for("api:item", name=name)),
        }
    )


async def echo(request: Request) -> JSONResponse:
    try:
        payload = await request.json()
    except ValueError:
        raise HTTPException(status_code=400, detail="Expected a JSON body.")
    return JSONResponse({"received": payload}, headers={"x-echo": "1"})


async def lifespan_state(request: Request) -> JSONResponse:
    return JSONResponse({"pid": request.state.pid, "worker_pid": os.getpid()})


async def client_info(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "client_host": request.client.host if request.client else None,
            "server": list(request.scope["server"] or ()),
            "http_version": request.scope["http_version"],
            "host": request.url.hostname,
            "port": request.url.port,
        }
    )


# -- bodies ----------------------------------------------------------------------------


async def form(request: Request) -> JSONResponse:
    async with request.form() as data:
        return JSONResponse({key: data.getlist(key) for key in data})


async def upload(request: Request) -> JSONResponse:
    """Describes a multipart body: each file's size and sha256, and the plain fields."""
    files: list[dict[str, Any]] = []
    fields: dict[str, list[str]] = {}
    async with request.form() as data:
        for name, value in data.multi_items():
            if isinstance(value, UploadFile):
                digest, size = hashlib.sha256(), 0
                while chunk := await value.read(64 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
                files.append(
                    {
                        "field": name,
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "size": size,
                        "reported_size": value.size,
                        "sha256": digest.hexdigest(),
                    }
                )
            else:
                fields.setdefault(name, []).append(value)
    return JSONResponse({"files": files, "fields": fields})


async def body(request: Request) -> JSONResponse:
    """Reads the raw body as a stream: its size, hash and how many chunks arrived."""
    digest, size, chunks = hashlib.sha256(), 0, 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
        chunks += bool(chunk)
    return JSONResponse(
        {
            "size": size,
            "sha256": digest.hexdigest(),
            "chunks": chunks,
            "content_length": request.headers.get("content-length"),
            "transfer_encoding": request.headers.get("transfer-encoding"),
        }
    )


# -- streaming -------------------------------------------------------------------------


async def gated_stream(request: Request) -> StreamingResponse:
    """Sends chunk 0 at once, then chunk i only after the i-th `POST .../next`.

    A client that reads chunk i before releasing chunk i + 1 proves the server sent
    it on its own, not buffered with the rest of the body.
    """
    token: str = request.path_params["token"]
    count = int(request.query_params.get("count", "3"))
    gates: dict[str, Gate] = request.state.gates
    gate = gates.setdefault(token, Gate())

    async def chunks() -> AsyncIterator[bytes]:
        try:
            for index in range(count):
                if index:
                    with anyio.fail_after(GATE_TIMEOUT):
                        await gate.receive.receive()
                yield f"chunk {index}\n".encode()
        finally:
            gates.pop(token, None)
            gate.send.close()
            gate.receive.close()

    return StreamingResponse(chunks(), media_type="text/plain")


async def release_gate(request: Request) -> Response:
    gates: dict[str, Gate] = request.state.gates
    gate = gates.get(request.path_params["token"])
    if gate is None:
        raise HTTPException(status_code=404, detail="No such stream.")
    gate.send.send_nowait(None)
    return Response(status_code=204)


def big_stream(request: Request) -> StreamingResponse:
    """`size` bytes of a repeating pattern, sent by a sync iterator in 64 KiB chunks."""
    size = int(request.query_params["size"])

    def chunks() -> Iterator[bytes]:
        block = bytes(range(256)) * 256
        sent = 0
        while sent < size:
            chunk = block[: min(len(block), size - sent)]
            sent += len(chunk)
            yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")


# -- sessions and background tasks -----------------------------------------------------


async def session(request: Request) -> JSONResponse:
    if request.method == "POST":
        request.session.update(await request.json())
    elif request.method == "DELETE":
        request.session.clear()
    return JSONResponse(dict(request.session))


async def start_task(request: Request) -> JSONResponse:
    name: str = request.path_params["name"]
    done: list[str] = request.state.tasks_done

    async def record() -> None:
        # Runs after the response went out, and may take its time.
        await anyio.sleep(0.01)
        done.append(name)

    return JSONResponse({"queued": name}, status_code=202, background=BackgroundTask(record))


async def tasks(request: Request) -> JSONResponse:
    return JSONResponse(request.state.tasks_done)


# -- websockets ------------------------------------------------------------------------


async def websocket_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {
            "room": websocket.path_params["room"],
            "query": dict(websocket.query_params),
            "session": dict(websocket.session),
            "pid": websocket.state.pid,
        }
    )
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "bye":
                await websocket.close(code=4000, reason="bye to you")
                return
            if message.get("text") is not None:
                await websocket.send_text("echo: " + message["text"])
            else:
                await websocket.send_bytes(bytes(reversed(message["bytes"])))
    except WebSocketDisconnect:
        pass


async def websocket_refused(websocket: WebSocket) -> None:
    # Closing before accepting: servers answer the handshake with an HTTP 403.
    await websocket.close(code=1008)


# -- GraphQL ---------------------------------------------------------------------------

SCHEMA = """
type Query {
  hello(name: String = "world"): String!
  messages: [String!]!
}
type Mutation {
  post(text: String!): Int!
}
type Subscription {
  countdown(from: Int!): Int!
  posted: String!
}
"""


def resolve_hello(root: Any, info: Info, name: str) -> str:
    return f"Hello, {name}!"


def resolve_messages(root: Any, info: Info) -> list[str]:
    broker: Broker = info.context["request"].state.broker
    return broker.messages


def resolve_post(root: Any, info: Info, text: str) -> int:
    request = info.context["request"]
    broker: Broker = request.state.broker
    broker.publish(text)
    done: list[str] = request.state.tasks_done
    info.context["background"].add_task(done.append, f"graphql:{text}")
    return len(broker.messages)


async def subscribe_countdown(root: Any, info: Info, **arguments: int) -> AsyncIterator[int]:
    for number in range(arguments["from"], -1, -1):
        yield number
        await anyio.sleep(0.01)


async def subscribe_posted(root: Any, info: Info) -> AsyncIterator[str]:
    broker: Broker = info.context["request"].state.broker
    async with broker.listen() as events:
        # The first event tells the client it is listening, so a post it sends next
        # cannot be missed.
        yield "(listening)"
        async for text in events:
            yield text


graphql = GraphQL(
    SCHEMA,
    resolvers={
        "Query": {"hello": resolve_hello, "messages": resolve_messages},
        "Mutation": {"post": resolve_post},
        "Subscription": {"countdown": subscribe_countdown, "posted": subscribe_posted},
    },
)

# -- the application -------------------------------------------------------------------

routes = [
    Route("/health", health),
    Route("/users/{user_id:int}", user, name="user"),
    Route("/echo", echo, methods=["POST"]),
    Route("/lifespan", lifespan_state),
    Route("/client", client_info),
    Route("/form", form, methods=["POST"]),
    Route("/upload", upload, methods=["POST"]),
    Route("/body", body, methods=["POST", "PUT"]),
    Route("/stream/{token}", gated_stream),
    Route("/stream/{token}/next", release_gate, methods=["POST"]),
    Route("/big", big_stream),
    Route("/session", session, methods=["GET", "POST", "DELETE"]),
    Route("/tasks", tasks),
    Route("/tasks/{name}", start_task, methods=["POST"]),
    WebSocketRoute("/ws/{room}", websocket_echo),
    WebSocketRoute("/ws-refused", websocket_refused),
    Mount("/api", routes=[Route("/items/{name}", item, name="item")], name="api"),
    Mount("/static", StaticFiles(directory=DATA_DIR / "static"), name="static"),
    # A Route and a WebSocketRoute serve the exact path: under a Mount, `/graphql`
    # would redirect HTTP to `/graphql/` and refuse a WebSocket outright.
    Route("/graphql", graphql),
    WebSocketRoute("/graphql", graphql),
]

app = Stellate(
    routes=routes,
    middleware=[Middleware(SessionMiddleware, secret_key="tests-servers-secret")],
    lifespan=lifespan,
    max_body_size=MAX_BODY_SIZE,
)

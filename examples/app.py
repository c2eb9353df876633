"""The demo served by `scripts/serve`: the seed example, grown a little.

Run it with `scripts/serve`, then try:

    curl http://127.0.0.1:8000/
    curl http://127.0.0.1:8000/users/42
    curl -X POST http://127.0.0.1:8000/echo -H 'content-type: application/json' -d '{"a": 1}'
    curl -X POST http://127.0.0.1:8000/form -d 'name=Ada&language=Python'
    open http://127.0.0.1:8000/chat  (a WebSocket echo in the browser)
"""

from __future__ import annotations

import uvicorn

from stellate.applications import Stellate
from stellate.exceptions import HTTPException
from stellate.requests import Request
from stellate.responses import HTMLResponse, JSONResponse, PlainTextResponse
from stellate.routing import Mount, Route, WebSocketRoute
from stellate.websockets import WebSocket, WebSocketDisconnect

CHAT_PAGE = """<!doctype html>
<html>
  <head><meta charset="utf-8"><title>Stellate echo</title></head>
  <body>
    <h1>WebSocket echo</h1>
    <form id="f"><input id="msg" autocomplete="off"><button>Send</button></form>
    <ul id="log"></ul>
    <script>
      const ws = new WebSocket(`ws://${location.host}/ws`);
      const log = (text) => {
        const li = document.createElement("li");
        li.textContent = text;
        document.getElementById("log").appendChild(li);
      };
      ws.onmessage = (event) => log(event.data);
      document.getElementById("f").onsubmit = (event) => {
        event.preventDefault();
        const input = document.getElementById("msg");
        ws.send(input.value);
        input.value = "";
      };
    </script>
  </body>
</html>
"""


async def homepage(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


async def user(request: Request) -> JSONResponse:
    user_id: int = request.path_params["user_id"]
    return JSONResponse({"id": user_id, "url": str(request.url_for("user", user_id=user_id))})


async def echo(request: Request) -> JSONResponse:
    try:
        payload = await request.json()
    except ValueError:
        raise HTTPException(status_code=400, detail="Expected a JSON body.")
    return JSONResponse({"received": payload})


async def form(request: Request) -> JSONResponse:
    async with request.form() as data:
        return JSONResponse({key: str(value) for key, value in data.items()})


async def chat(request: Request) -> HTMLResponse:
    return HTMLResponse(CHAT_PAGE)


async def websocket_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        async for message in websocket.iter_text():
            await websocket.send_text(f"echo: {message}")
    except WebSocketDisconnect:
        pass


def health(request: Request) -> PlainTextResponse:
    # A sync endpoint: Stellate runs it in a worker thread.
    return PlainTextResponse("ok")


routes = [
    Route("/", homepage),
    Route("/users/{user_id:int}", user, name="user"),
    Route("/echo", echo, methods=["POST"]),
    Route("/form", form, methods=["POST"]),
    Route("/chat", chat),
    WebSocketRoute("/ws", websocket_echo),
    Mount("/admin", routes=[Route("/health", health)]),
]

app = Stellate(debug=True, routes=routes, max_body_size=1024 * 1024)
__all__ = ["app"]

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)

"""The GraphiQL page: served on GET to a client that asks for HTML.

The page loads pinned builds of GraphiQL and React from `assets_url` with
Subresource Integrity, so a CDN (the default) or a mirror cannot change them. To
serve them yourself (offline, or behind a CSP), put each package's files under
`<assets_url>/<package>@<version>/` as the npm package holds them (`npm pack`
gives the same bytes), and set `graphiql_assets_url`.

The page embeds nothing from the request: GraphiQL reads `query` and `variables`
from the page's own address, and the GraphQL and WebSocket URLs come from
`window.location`, with `ws:`/`wss:` following `http:`/`https:`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "DEFAULT_ASSETS_URL",
    "GRAPHIQL_ASSETS",
    "GRAPHIQL_SCRIPT",
    "GRAPHIQL_SCRIPT_HASH",
    "GraphiQLAsset",
    "graphiql_page",
]

#: A public CDN serving npm packages at `<base>/<package>@<version>/<path>`.
DEFAULT_ASSETS_URL = "https://cdn.jsdelivr.net/npm"


class GraphiQLAsset(NamedTuple):
    """One file the page loads: `<assets_url>/<package>@<version>/<path>`."""

    package: str
    version: str
    path: str
    integrity: str

    @property
    def relative_url(self) -> str:
        return f"{self.package}@{self.version}/{self.path}"


# The integrity values are the SHA-384 digests of these files in the npm packages.
_REACT = GraphiQLAsset(
    "react",
    "18.3.1",
    "umd/react.production.min.js",
    "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
)
_REACT_DOM = GraphiQLAsset(
    "react-dom",
    "18.3.1",
    "umd/react-dom.production.min.js",
    "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
)
_GRAPHIQL_JS = GraphiQLAsset(
    "graphiql",
    "3.8.3",
    "graphiql.min.js",
    "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
)
_GRAPHIQL_CSS = GraphiQLAsset(
    "graphiql",
    "3.8.3",
    "graphiql.min.css",
    "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
)

#: Every file the page loads, in order (the stylesheet first).
GRAPHIQL_ASSETS = (_GRAPHIQL_CSS, _REACT, _REACT_DOM, _GRAPHIQL_JS)

#: The page's one inline script. It reads its settings from the `data-` attributes
#: of its own element, so it never changes and a CSP can allow it by its hash.
GRAPHIQL_SCRIPT = """
(function () {
  var settings = document.getElementById("graphiql-settings").dataset;
  var params = new URLSearchParams(window.location.search);
  var here = new URL(window.location.href);
  here.search = "";
  here.hash = "";
  var options = { url: here.toString() };
  if (settings.subscriptions === "true") {
    var socket = new URL(here.toString());
    socket.protocol = here.protocol === "https:" ? "wss:" : "ws:";
    options.subscriptionUrl = socket.toString();
  }
  var props = { fetcher: GraphiQL.createFetcher(options) };
  if (params.has("query")) { props.query = params.get("query"); }
  if (params.has("variables")) { props.variables = params.get("variables"); }
  if (params.has("operationName")) { props.operationName = params.get("operationName"); }
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, props));
})();
"""

#: The CSP source that allows `GRAPHIQL_SCRIPT` (`script-src ... 'sha256-...'`).
GRAPHIQL_SCRIPT_HASH = (
    "sha256-" + base64.b64encode(hashlib.sha256(GRAPHIQL_SCRIPT.encode()).digest()).decode()
)


@lru_cache(maxsize=16)
def graphiql_page(assets_url: str = DEFAULT_ASSETS_URL, *, subscriptions: bool = True) -> str:
    """The HTML page, its asset URLs under `assets_url` (every value escaped)."""
    base = assets_url.rstrip("/")
    links = "\n".join(_tag(asset, base) for asset in GRAPHIQL_ASSETS if asset.path.endswith(".css"))
    scripts = "\n".join(
        _tag(asset, base) for asset in GRAPHIQL_ASSETS if asset.path.endswith(".js")
    )
    flag = html.escape(json.dumps(subscriptions), quote=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>GraphiQL</title>
<style>html, body, #graphiql {{ height: 100%; margin: 0; overflow: hidden; }}</style>
{links}
</head>
<body>
<div id="graphiql">Loading GraphiQL&hellip;</div>
{scripts}
<script id="graphiql-settings" data-subscriptions="{flag}">{GRAPHIQL_SCRIPT}</script>
</body>
</html>
"""


def _tag(asset: GraphiQLAsset, base: str) -> str:
    url = html.escape(f"{base}/{asset.relative_url}", quote=True)
    integrity = html.escape(asset.integrity, quote=True)
    if asset.path.endswith(".css"):
        return (
            f'<link rel="stylesheet" href="{url}" integrity="{integrity}" crossorigin="anonymous">'
        )
    return f'<script src="{url}" integrity="{integrity}" crossorigin="anonymous"></script>'

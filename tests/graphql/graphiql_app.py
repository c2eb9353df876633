"""The app that `test_graphiql_browser.py` opens in headless Chromium.

GraphQL with GraphiQL at `/`, and the page's assets served from the same origin under
`/assets/<package>@<version>/`, each mount over that package in tests/graphql/node/
node_modules (installed from the npm registry by `scripts/install`). Run by uvicorn:
`uvicorn tests.graphql.graphiql_app:app` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

from stellate_graphql import GRAPHIQL_ASSETS, GraphQL
from stellate_routing import Mount, Router
from stellate_staticfiles import StaticFiles
from tests.graphql.conformance_app import schema

__all__ = ["ASSETS_PATH", "NODE_MODULES", "app"]

NODE_MODULES = Path(__file__).parent / "node" / "node_modules"
ASSETS_PATH = "/assets"

_packages = sorted({(asset.package, asset.version) for asset in GRAPHIQL_ASSETS})

app = Router(
    routes=[
        *(
            Mount(
                f"{ASSETS_PATH}/{package}@{version}",
                StaticFiles(directory=NODE_MODULES / package),
            )
            for package, version in _packages
        ),
        Mount("", GraphQL(schema, graphiql=True, graphiql_assets_url=ASSETS_PATH)),
    ]
)

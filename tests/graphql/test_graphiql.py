"""GraphiQL: when it is served, what the page loads, and what it embeds."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest

from stellate_graphql import GRAPHIQL_ASSETS, GRAPHIQL_SCRIPT_HASH, GraphQL
from stellate_graphql._graphiql import DEFAULT_ASSETS_URL, graphiql_page
from tests.conftest import TestClientFactory

SDL = "type Query { hello: String } type Subscription { tick: Int }"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def client_for(factory: TestClientFactory, **options: Any) -> Any:
    return factory(GraphQL(SDL, resolvers={"Query": {"hello": lambda *_: "hi"}}, **options))


def is_page(response: Any) -> bool:
    return bool(
        response.status_code == 200
        and response.headers["content-type"].startswith("text/html")
        and "<title>GraphiQL</title>" in response.text
    )


def test_graphiql_is_off_by_default(test_client_factory: TestClientFactory) -> None:
    response = client_for(test_client_factory).get("/", headers={"accept": BROWSER})
    assert not is_page(response)
    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "The 'query' parameter is missing."}]}


def test_graphiql_is_on_in_debug(test_client_factory: TestClientFactory) -> None:
    response = client_for(test_client_factory, debug=True).get("/", headers={"accept": BROWSER})
    assert is_page(response)
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["vary"] == "Accept"


def test_graphiql_can_be_turned_on_or_off(test_client_factory: TestClientFactory) -> None:
    on = client_for(test_client_factory, graphiql=True)
    assert is_page(on.get("/", headers={"accept": BROWSER}))
    off = client_for(test_client_factory, debug=True, graphiql=False)
    assert not is_page(off.get("/", headers={"accept": BROWSER}))


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/graphql-response+json, application/json, multipart/mixed",
        "*/*",
        "application/json, text/html;q=0.5",
    ],
)
def test_clients_asking_for_json_get_json(
    test_client_factory: TestClientFactory, accept: str
) -> None:
    client = client_for(test_client_factory, graphiql=True)
    response = client.get("/", params={"query": "{ hello }"}, headers={"accept": accept})
    assert response.status_code == 200
    assert response.json() == {"data": {"hello": "hi"}}


def test_html_first_on_a_tie_gets_the_page(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, graphiql=True)
    assert is_page(client.get("/", headers={"accept": "text/html, application/json"}))
    assert not is_page(client.get("/", headers={"accept": "text/html;q=0, */*"}))


def test_post_is_never_graphiql(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, graphiql=True)
    response = client.post("/", json={"query": "{ hello }"}, headers={"accept": BROWSER})
    assert response.json() == {"data": {"hello": "hi"}}


def test_the_page_loads_pinned_assets_with_integrity(
    test_client_factory: TestClientFactory,
) -> None:
    text = client_for(test_client_factory, graphiql=True).get("/", headers={"accept": BROWSER}).text
    for asset in GRAPHIQL_ASSETS:
        url = f"{DEFAULT_ASSETS_URL}/{asset.package}@{asset.version}/{asset.path}"
        assert re.search(
            rf'(src|href)="{re.escape(url)}" integrity="{re.escape(asset.integrity)}"', text
        )
        assert re.fullmatch(r"\d+\.\d+\.\d+", asset.version)
        assert asset.integrity.startswith("sha384-")
    assert text.count('crossorigin="anonymous"') == len(GRAPHIQL_ASSETS)
    assert DEFAULT_ASSETS_URL.startswith("https://")


def test_the_assets_url_is_configurable(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, graphiql=True, graphiql_assets_url="/static/vendor/")
    text = client.get("/", headers={"accept": BROWSER}).text
    assert 'src="/static/vendor/react@18.3.1/umd/react.production.min.js"' in text
    assert DEFAULT_ASSETS_URL not in text


def test_the_assets_url_is_escaped() -> None:
    page = graphiql_page('https://cdn.example/"><script>alert(1)</script>')
    assert "<script>alert(1)" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_embeds_nothing_from_the_request(test_client_factory: TestClientFactory) -> None:
    client = client_for(test_client_factory, graphiql=True)
    attack = '</script><script>alert("x")</script>'
    response = client.get(
        "/", params={"query": attack, "variables": attack}, headers={"accept": BROWSER}
    )
    assert is_page(response)
    assert "alert" not in response.text
    assert response.text == graphiql_page(DEFAULT_ASSETS_URL, subscriptions=True)


def test_the_inline_script_matches_its_published_hash(
    test_client_factory: TestClientFactory,
) -> None:
    text = client_for(test_client_factory, graphiql=True).get("/", headers={"accept": BROWSER}).text
    inline = re.findall(r"<script id=\"graphiql-settings\"[^>]*>(.*?)</script>", text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"sha256-{digest}" == GRAPHIQL_SCRIPT_HASH


def test_the_script_derives_the_urls_from_the_location() -> None:
    page = graphiql_page()
    assert "window.location.href" in page
    # the parameters are read before the URL is stripped of them
    assert page.index("new URLSearchParams(window.location.search)") < page.index(
        'here.search = ""'
    )
    assert 'here.protocol === "https:" ? "wss:" : "ws:"' in page
    assert "subscriptionUrl" in page


def test_the_subscription_url_is_left_out_without_subscriptions(
    test_client_factory: TestClientFactory,
) -> None:
    with_ws = client_for(test_client_factory, graphiql=True)
    assert 'data-subscriptions="true"' in with_ws.get("/", headers={"accept": BROWSER}).text
    without = client_for(test_client_factory, graphiql=True, subscriptions=False)
    assert 'data-subscriptions="false"' in without.get("/", headers={"accept": BROWSER}).text


def test_graphiql_is_served_even_when_get_queries_are_off(
    test_client_factory: TestClientFactory,
) -> None:
    client = client_for(test_client_factory, graphiql=True, allow_get=False)
    assert is_page(client.get("/", headers={"accept": BROWSER}))
    assert client.get("/", params={"query": "{ hello }"}).status_code == 405

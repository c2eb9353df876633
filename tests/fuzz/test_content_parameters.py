"""Fuzz tests of the parameters of `Content-Type` and `Content-Disposition` headers.

Both go through python-multipart's `parse_options_header`: `Request.form()` reads the
request's media type with it, and the multipart parser reads each part's
`Content-Disposition` (`name`, `filename`) and the body's `boundary` and `charset`.

Properties: a header of a media type and parameters (tokens, or quoted strings as
browsers write them, `;` and `=` included) parses to its lowercased type and its
parameters; any latin-1 text parses without raising; `request.form()` answers any
Content-Type and body with 200 or 400, never a 5xx; a multipart part with any
Content-Disposition line is read under the name the header gives, or refused with
400; fields and files sent by the test client come back with their names, file names
and contents; parsing is linear in the header's length.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_multipart.multipart import parse_options_header

from stellate.applications import Stellate
from stellate.datastructures import UploadFile
from stellate.requests import Request
from stellate.responses import JSONResponse, Response
from stellate.routing import Route
from tests.conftest import TestClientFactory
from tests.fuzz._asgi import call
from tests.fuzz._timing import assert_linear

# RFC 9110 tokens. Parameter names leave out "*": `name*=` (RFC 2231) parameters are
# ignored in multipart/form-data, as RFC 7578 (4.2) asks.
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=12)
parameter_names = st.text(TOKEN_CHARS.replace("*", ""), min_size=1, max_size=12)
# A quoted value as browsers write one (HTML's form encoding): any visible latin-1
# text, spaces, ";" and "=" included, but never `"` (sent as %22) or a backslash
# escape. (python-multipart, like the stdlib's email parser, miscounts a quote after
# a literal backslash, so backslash escapes are not part of this oracle.)
quoted_texts = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters='"\\\x7f'),
    max_size=20,
)
parameters = st.lists(
    st.tuples(parameter_names, st.one_of(tokens, quoted_texts.map(lambda v: f'"{v}"'))),
    max_size=6,
)
latin1_texts = st.text(st.characters(max_codepoint=0xFF), max_size=120)
option_soup = st.text(st.sampled_from(';="\\ \tab*/:'), max_size=60)

MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"


@given(tokens, tokens, parameters, st.sampled_from(["; ", ";", " ; ", ";\t"]))
def test_a_media_type_with_parameters_parses_to_its_parts(
    kind: str, subtype: str, params: list[tuple[str, str]], separator: str
) -> None:
    header = f"{kind}/{subtype}" + "".join(f"{separator}{key}={value}" for key, value in params)
    media_type, options = parse_options_header(header)
    assert media_type == f"{kind}/{subtype}".lower().encode("latin-1")
    # Names are case-insensitive (lowercased); the last of a repeated name wins.
    expected = {
        key.lower().encode("latin-1"): value.strip('"').encode("latin-1") for key, value in params
    }
    assert options == expected


@given(parameter_names, quoted_texts, quoted_texts)
def test_extended_parameters_are_ignored_in_favour_of_plain_ones(
    key: str, plain: str, extended: str
) -> None:
    header = f"{MULTIPART}; {key}*=utf-8''{extended}; {key}=\"{plain}\""
    _, options = parse_options_header(header)
    assert options.get(key.lower().encode("latin-1")) == plain.encode("latin-1")
    assert not any(b"*" in name for name in options)


@given(st.one_of(latin1_texts, option_soup))
def test_any_latin1_header_parses_without_raising(header: str) -> None:
    media_type, options = parse_options_header(header)
    assert isinstance(media_type, bytes)
    for key, value in options.items():
        assert isinstance(key, bytes)
        assert isinstance(value, bytes)


@pytest.mark.anyio
@given(
    st.one_of(
        st.binary(max_size=80),
        st.sampled_from([MULTIPART, URLENCODED, MULTIPART + "; boundary=b"]).map(str.encode),
        option_soup.map(lambda text: (MULTIPART + text).encode("latin-1")),
    ),
    st.binary(max_size=200),
)
async def test_a_form_request_with_any_content_type_gets_200_or_400(
    content_type: bytes, body: bytes
) -> None:
    headers = [(b"content-type", content_type)]
    answer = await call(_form_app(), method="POST", path="/form", headers=headers, body=body)
    media_type, options = parse_options_header(content_type.decode("latin-1"))
    if media_type not in (MULTIPART.encode(), URLENCODED.encode()):
        # Not a form: an empty form, whatever the body holds.
        assert (answer.status, json.loads(answer.body)) == (200, [])
    elif media_type == URLENCODED.encode():
        # Far below every limit, and urlencoded syntax has no errors: always a form.
        assert answer.status == 200
    elif not options.get(b"boundary"):
        assert (answer.status, answer.body) == (400, b"Missing boundary in multipart.")
    else:
        assert answer.status in (200, 400)


@pytest.mark.anyio
@given(
    st.one_of(
        st.binary(max_size=100),
        option_soup.map(lambda text: ("form-data" + text).encode()),
        st.builds(
            lambda params, junk: ("form-data" + "".join(params) + junk).encode("latin-1"),
            st.lists(
                st.builds(
                    "; {}={}".format,
                    st.sampled_from(["name", "filename", "NAME", "name*", "x"]),
                    st.one_of(tokens, quoted_texts.map(lambda v: f'"{v}"')),
                ),
                max_size=3,
            ),
            option_soup,
        ),
    )
)
async def test_a_part_with_any_content_disposition_is_read_or_refused(disposition: bytes) -> None:
    # The header line ends at CR or LF: beyond that the body would be another line.
    disposition = disposition.replace(b"\r", b"").replace(b"\n", b"")
    body = b"--fuzz\r\nContent-Disposition: " + disposition + b"\r\n\r\nvalue\r\n--fuzz--\r\n"
    headers = [(b"content-type", f"{MULTIPART}; boundary=fuzz".encode())]
    answer = await call(_form_app(), method="POST", path="/form", headers=headers, body=body)
    _, options = parse_options_header(disposition.decode("latin-1"))
    if b"name" not in options:
        assert answer.status == 400
        assert answer.body == b'The Content-Disposition header field "name" must be provided.'
        return
    assert answer.status == 200
    name = _decoded(options[b"name"])
    if b"filename" in options:
        filename = _decoded(options[b"filename"])
        assert json.loads(answer.body) == [[name, {"filename": filename, "content": "value"}]]
    else:
        assert json.loads(answer.body) == [[name, "value"]]


# What the test client can put in a name or file name and get back unchanged: httpx
# percent-encodes `"` and control characters, and escapes backslashes (see above).
form_texts = st.text(
    st.characters(
        min_codepoint=0x20, blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'
    ),
    min_size=1,
    max_size=12,
)


# Each example is a real request through the test client: fewer of them.
@settings(max_examples=50)
@given(
    st.lists(st.tuples(form_texts, st.text(max_size=20)), max_size=4),
    st.lists(st.tuples(form_texts, form_texts, st.binary(max_size=40)), max_size=3),
)
def test_fields_and_files_sent_by_the_test_client_come_back(
    test_client_factory: TestClientFactory,
    fields: list[tuple[str, str]],
    files: list[tuple[str, str, bytes]],
) -> None:
    client = test_client_factory(_form_app())
    upload = [
        (name, (filename, content, "application/octet-stream")) for name, filename, content in files
    ]
    # Without files httpx sends the fields urlencoded, with files as multipart.
    response = client.post("/form", data=dict(fields), files=upload or None)
    assert response.status_code == 200
    expected: list[list[Any]] = [[name, value] for name, value in dict(fields).items()]
    expected += [
        [name, {"filename": filename, "content": content.decode("latin-1")}]
        for name, filename, content in files
    ]
    assert response.json() == expected


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda n: MULTIPART + ";" * n, id="semicolons"),
        pytest.param(lambda n: MULTIPART + '; x="' + ";" * n, id="unclosed-quote-semicolons"),
        pytest.param(lambda n: MULTIPART + ';"' * n, id="quote-semicolon-pairs"),
        pytest.param(lambda n: MULTIPART + '; x="' + '\\";' * n, id="escaped-quotes"),
        pytest.param(lambda n: MULTIPART + "; x" + "=" * n, id="equals"),
        pytest.param(lambda n: MULTIPART + "; k=v" * n, id="many-parameters"),
        pytest.param(lambda n: MULTIPART + "; " + " " * n + "k=v", id="spaces"),
    ],
)
def test_parameter_parsing_takes_linear_time(make_header: Callable[[int], str]) -> None:
    assert_linear(parse_options_header, make_header, 500)


def _decoded(value: bytes) -> str:
    # How the multipart parser decodes names: the form's charset (UTF-8), else latin-1.
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


@functools.cache
def _form_app() -> Stellate:
    async def endpoint(request: Request) -> Response:
        items: list[list[Any]] = []
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    content = (await value.read()).decode("latin-1")
                    items.append([name, {"filename": value.filename, "content": content}])
                else:
                    items.append([name, value])
        return JSONResponse(items)

    return Stellate(routes=[Route("/form", endpoint, methods=["POST"])])

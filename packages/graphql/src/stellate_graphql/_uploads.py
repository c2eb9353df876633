"""The GraphQL multipart request specification: files placed into the operations.

A multipart request has an `operations` field (one GraphQL request, or a batch), a
`map` field (`{"0": ["variables.file"]}`: which file goes where) and the files. Each
path must point at a `null` inside the `variables` of an operation.
"""

from __future__ import annotations

import json
from typing import Any

from stellate_asgi.utils import parse_digits
from stellate_graphql._execution import RequestError
from stellate_http.datastructures import FormData, UploadFile

__all__ = ["operations_with_files"]


def operations_with_files(form: FormData) -> Any:
    operations_field = form.get("operations")
    map_field = form.get("map")
    if not isinstance(operations_field, str):
        raise RequestError("A multipart GraphQL request needs an 'operations' field.")
    if not isinstance(map_field, str):
        raise RequestError("A multipart GraphQL request needs a 'map' field.")
    operations = _upload_json("operations", operations_field)
    file_map = _upload_json("map", map_field)
    if not isinstance(operations, dict | list):
        raise RequestError("The 'operations' field must be a JSON object or array.")
    if not isinstance(file_map, dict):
        raise RequestError("The 'map' field must be a JSON object.")
    for key, paths in file_map.items():
        upload = form.get(key)
        if not isinstance(upload, UploadFile):
            raise RequestError(f"The 'map' names a file {key!r} that the request does not hold.")
        if not isinstance(paths, list) or not paths:
            raise RequestError(f"The 'map' entry {key!r} must be a non-empty array of paths.")
        for path in paths:
            if not isinstance(path, str):
                raise RequestError(f"The 'map' entry {key!r} holds a path that is not a string.")
            _place_file(operations, path, upload)
    return operations


def _upload_json(name: str, value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise RequestError(f"The '{name}' field is not valid JSON.") from None


def _place_file(operations: Any, path: str, upload: UploadFile) -> None:
    """Put `upload` where `path` ("variables.file", "0.variables.files.1") points:
    a null inside the variables of an operation."""
    keys = path.split(".")
    if isinstance(operations, list):
        index = _list_index(keys[0], operations)
        if index is None:
            raise RequestError(f"The file path {path!r} does not name an operation of the batch.")
        target = operations[index]
        keys = keys[1:]
    else:
        target = operations
    if len(keys) < 2 or keys[0] != "variables" or not isinstance(target, dict):
        raise RequestError(f"The file path {path!r} must point inside 'variables'.")
    container: Any = target
    for key in keys[:-1]:
        container = _step(container, key, path)
    last = keys[-1]
    index = _list_index(last, container) if isinstance(container, list) else None
    if isinstance(container, dict) and container.get(last, ...) is None:
        container[last] = upload
    elif isinstance(container, list) and index is not None and container[index] is None:
        container[index] = upload
    else:
        raise RequestError(f"The file path {path!r} does not point at a null in the operations.")


def _step(container: Any, key: str, path: str) -> Any:
    if isinstance(container, dict) and key in container:
        return container[key]
    if isinstance(container, list) and (index := _list_index(key, container)) is not None:
        return container[index]
    raise RequestError(f"The file path {path!r} does not exist in the operations.")


def _list_index(key: str, items: list[Any]) -> int | None:
    """`key` as an index into `items`, or None when it is not one.

    Only ASCII digits count ("²" passes `isdigit` but not `int`), and a key too long
    to be in range is not converted: client input must give a 400, never a 500.
    """
    index = parse_digits(key, len(str(len(items))), len(items))
    return index if index is not None and index < len(items) else None

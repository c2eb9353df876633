"""Schema-first support: SDL plus resolver maps, and the `Upload` scalar."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    ValueNode,
    build_schema,
)

from stellate_http.datastructures import UploadFile

__all__ = ["Resolvers", "Upload", "bind_resolvers", "build_executable_schema"]

#: `{"Query": {"field": resolver}, "Subscription": {"field": async_generator_function}}`.
Resolvers = Mapping[str, Mapping[str, Callable[..., Any]]]

#: The key of an interface's or union's map that names its type resolver.
RESOLVE_TYPE = "__resolve_type"


def _upload_value(value: Any) -> UploadFile:
    if not isinstance(value, UploadFile):
        raise GraphQLError("Upload values are files sent as a GraphQL multipart request.")
    return value


def _upload_literal(node: ValueNode, _variables: Any = None) -> UploadFile:
    raise GraphQLError("Upload values cannot be written in the document: send them as variables.")


def _upload_serialize(value: Any) -> Any:
    raise GraphQLError("Upload is an input-only scalar.")


#: The scalar of the GraphQL multipart request spec: a variable that holds an
#: `UploadFile`. A schema built from SDL that declares `scalar Upload` gets it too.
Upload = GraphQLScalarType(
    name="Upload",
    description="A file sent in a GraphQL multipart request.",
    serialize=_upload_serialize,
    parse_value=_upload_value,
    parse_literal=_upload_literal,
)


def build_executable_schema(sdl: str, resolvers: Resolvers | None = None) -> GraphQLSchema:
    """Build a schema from SDL and bind `resolvers` onto it."""
    schema = build_schema(sdl)
    upload = schema.type_map.get("Upload")
    if isinstance(upload, GraphQLScalarType):
        # SDL cannot give a scalar its functions: an SDL `scalar Upload` gets ours
        # (graphql-core 3.3 also reads them under their `coerce_*` names)
        functions = {
            "serialize": _upload_serialize,
            "parse_value": _upload_value,
            "parse_literal": _upload_literal,
            "coerce_output_value": _upload_serialize,
            "coerce_input_value": _upload_value,
        }
        for name, function in functions.items():
            if name in ("serialize", "parse_value", "parse_literal") or hasattr(upload, name):
                setattr(upload, name, function)
    if resolvers:
        bind_resolvers(schema, resolvers)
    return schema


def bind_resolvers(schema: GraphQLSchema, resolvers: Resolvers) -> None:
    """Set each field's resolver (or, on the subscription type, its `subscribe`).

    A subscription field's callable returns an async iterator (usually it is an
    async generator function); each value it yields is the field's value. An
    interface or union takes `"__resolve_type"`. A name the schema does not have
    raises `ValueError`, so a typo fails at start-up, not at the first request.
    """
    subscription = schema.subscription_type
    for type_name, fields in resolvers.items():
        graphql_type = schema.type_map.get(type_name)
        if isinstance(graphql_type, GraphQLInterfaceType | GraphQLUnionType):
            for name, function in fields.items():
                if name != RESOLVE_TYPE:
                    raise ValueError(
                        f"{type_name} is an interface or union: only {RESOLVE_TYPE!r} can be set."
                    )
                graphql_type.resolve_type = function
            continue
        if not isinstance(graphql_type, GraphQLObjectType):
            raise ValueError(f"The schema has no object type named {type_name!r}.")
        for field_name, function in fields.items():
            field = graphql_type.fields.get(field_name)
            if field is None:
                raise ValueError(f"The type {type_name!r} has no field named {field_name!r}.")
            if not callable(function):
                raise ValueError(f"The resolver for {type_name}.{field_name} is not callable.")
            if graphql_type is subscription:
                field.subscribe = function
                field.resolve = _event
            else:
                field.resolve = function


def _event(event: Any, _info: Any, **_arguments: Any) -> Any:
    return event

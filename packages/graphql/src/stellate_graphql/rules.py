"""Validation rules that bound what one operation may ask for.

`max_depth(n)` and `max_aliases(n)` build rule classes for `graphql.validate`;
`NoIntrospection` refuses `__schema` and `__type`. Fragments are followed through
their spreads (each spread counts as often as it is used), and a fragment cycle,
which the standard rules report on their own, never loops here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

__all__ = ["NoIntrospection", "max_aliases", "max_depth"]

#: Root fields that start introspection; `__typename` is not one of them.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class NoIntrospection(ValidationRule):
    """Refuse introspection (`__schema`, `__type`); `__typename` stays allowed."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(
                    "GraphQL introspection is not allowed, but the query contained"
                    f" '{node.name.value}'.",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )


def max_depth(limit: int) -> type[ValidationRule]:
    """A rule refusing operations whose fields nest deeper than `limit`.

    `{ a }` has depth 1 and `{ a { b } }` depth 2; fragments add the depth of what
    they select where they are spread.
    """
    if limit < 1:
        raise ValueError("The maximum depth must be at least 1.")

    class MaxDepth(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            measure = _FragmentMeasure(self.context, _selection_depth)
            depth = measure.selection_set(node.selection_set)
            if depth > limit:
                self.report_error(
                    GraphQLError(
                        f"{_describe(node)} exceeds the maximum query depth of {limit}.",
                        node,
                        extensions={"code": "MAX_DEPTH_EXCEEDED"},
                    )
                )

    MaxDepth.__name__ = MaxDepth.__qualname__ = f"MaxDepth{limit}"
    return MaxDepth


def max_aliases(limit: int) -> type[ValidationRule]:
    """A rule refusing operations that use more than `limit` field aliases.

    An alias inside a fragment counts once for every place the fragment is spread,
    so that nested spreads cannot multiply aliases past the limit unseen.
    """
    if limit < 0:
        raise ValueError("The maximum number of aliases cannot be negative.")

    class MaxAliases(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            measure = _FragmentMeasure(self.context, _selection_aliases)
            count = measure.selection_set(node.selection_set)
            if count > limit:
                self.report_error(
                    GraphQLError(
                        f"{_describe(node)} uses {count} aliases,"
                        f" more than the maximum of {limit}.",
                        node,
                        extensions={"code": "MAX_ALIASES_EXCEEDED"},
                    )
                )

    MaxAliases.__name__ = MaxAliases.__qualname__ = f"MaxAliases{limit}"
    return MaxAliases


# A measure of one selection set, given the measure of the selections nested in it.
_Combine = Callable[["_FragmentMeasure", SelectionSetNode], int]


class _FragmentMeasure:
    """Measures selection sets, following fragment spreads with a memo per fragment.

    The memo keeps repeated spreads linear; a fragment met again while it is being
    measured (a cycle) counts as 0, and the standard rules report the cycle itself.
    """

    def __init__(self, context: ValidationContext, combine: _Combine) -> None:
        self.context = context
        self.combine = combine
        self.memo: dict[str, int] = {}
        self.in_progress: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        return self.combine(self, selection_set)

    def fragment(self, name: str) -> int:
        if name in self.memo:
            return self.memo[name]
        if name in self.in_progress:
            return 0
        fragment: FragmentDefinitionNode | None = self.context.get_fragment(name)
        if fragment is None:
            return 0  # an unknown fragment is reported by KnownFragmentNames
        self.in_progress.add(name)
        try:
            value = self.selection_set(fragment.selection_set)
        finally:
            self.in_progress.discard(name)
        self.memo[name] = value
        return value


def _selection_depth(measure: _FragmentMeasure, selection_set: SelectionSetNode) -> int:
    depth = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            depth = max(depth, 1 + measure.selection_set(selection.selection_set))
        elif isinstance(selection, InlineFragmentNode):
            depth = max(depth, measure.selection_set(selection.selection_set))
        elif isinstance(selection, FragmentSpreadNode):
            depth = max(depth, measure.fragment(selection.name.value))
    return depth


def _selection_aliases(measure: _FragmentMeasure, selection_set: SelectionSetNode) -> int:
    count = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.alias is not None:
                count += 1
            count += measure.selection_set(selection.selection_set)
        elif isinstance(selection, InlineFragmentNode):
            count += measure.selection_set(selection.selection_set)
        elif isinstance(selection, FragmentSpreadNode):
            count += measure.fragment(selection.name.value)
    return count


def _describe(node: OperationDefinitionNode) -> str:
    if node.name is not None:
        return f"Operation '{node.name.value}'"
    return "The operation"

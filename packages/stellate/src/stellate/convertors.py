"""`stellate.convertors`: re-exports from the Stellate parts."""

from stellate_routing.convertors import (
    CONVERTOR_TYPES,
    Convertor,
    FloatConvertor,
    IntegerConvertor,
    PathConvertor,
    StringConvertor,
    T,
    UUIDConvertor,
    register_url_convertor,
)

__all__ = [
    "CONVERTOR_TYPES",
    "Convertor",
    "FloatConvertor",
    "IntegerConvertor",
    "PathConvertor",
    "StringConvertor",
    "T",
    "UUIDConvertor",
    "register_url_convertor",
]

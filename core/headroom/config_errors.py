"""pydantic's validation errors, retold as one-sentence :class:`ConfigurationError` messages.

pydantic reports a bad nested value as an error wrapping the nested model's error, and says
"Input should be greater than or equal to 1"; a user wants one line: which field (its whole
dotted path), which value, and what the field accepts, described from the field's own type and
bounds ("an integer >= 1", "a number from 0 to 1", "one of 'regex', 'ner', 'semantic'"). A
misspelt field name gets the nearest valid name and the list of valid ones.

    >>> from headroom.config import HeadroomConfig
    >>> try:
    ...     HeadroomConfig(keep_turn=3)
    ... except ValueError as exc:
    ...     print(str(exc)[:72])
    unknown field 'keep_turn' of HeadroomConfig; did you mean 'keep_turns'?
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from headroom.errors import ConfigurationError

__all__ = ["configuration_error", "describe_annotation"]


class ClosedSettings(BaseModel):
    """Validated, closed settings: an unknown field or a bad value raises a one-sentence ConfigurationError.

    The base of every configuration model (HeadroomConfig and its parts, the content compressors'
    settings), so construction and assignment report errors the same way everywhere.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise configuration_error(type(self), exc) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise configuration_error(type(self), exc) from None


def configuration_error(model: type[BaseModel], exc: ValidationError) -> ConfigurationError:
    """The first problem of ``exc``, raised while validating ``model``, as a ConfigurationError."""
    err = exc.errors()[0]
    owner = model.__name__
    loc = tuple(err.get("loc", ()))
    path = owner + _path_text(model, loc)
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigurationError):
        # Raised by a nested model, a field validator or the environment: already one sentence.
        return inner.rooted_at(path, owner) if inner.owner is not None else inner
    if err.get("type") == "extra_forbidden" and loc:
        container = _model_at(model, loc[:-1])
        valid = list(container.model_fields) if container is not None else []
        return ConfigurationError.unknown_name(owner + _path_text(model, loc[:-1]), str(loc[-1]), valid, owner=owner)
    accepted = _accepted(model, loc)
    if accepted is None or err.get("type") in ("value_error", "assertion_error"):
        accepted = _plain(err)
    return ConfigurationError(path, err.get("input"), accepted, owner=owner)


def _path_text(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """``.field`` for a model's field, ``[key]`` for a list index or a dict key."""
    out = ""
    annotation: Any = model
    for part in loc:
        bare = _strip_optional(_annotation_of(annotation))
        is_model = isinstance(bare, type) and issubclass(bare, BaseModel)
        out += f".{part}" if is_model and not isinstance(part, int) else f"[{part!r}]"
        annotation = _step(bare, part)
    return out


def _plain(err: Any) -> str:
    """pydantic's own message without its 'Value error, ' prefix, starting in lower case."""
    msg = str(err.get("msg") or "a valid value")
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg[:1].lower() + msg[1:]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    annotation = _strip_optional(_annotation_of(annotation))
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _annotation_of(target: Any) -> Any:
    return target.annotation if isinstance(target, FieldInfo) else target


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one location step further in: a model's field, a list's item, a dict's value."""
    annotation = _strip_optional(_annotation_of(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_fields.get(str(part))
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple, set, frozenset) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _accepted(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """What the field at ``loc`` accepts, from its annotation and (at field level) its bounds."""
    target: Any = model
    for part in loc:
        target = _step(target, part)
        if target is None:
            return None
    if isinstance(target, FieldInfo):
        return describe_annotation(target.annotation, _field_bounds(target))
    return describe_annotation(target)


def _field_bounds(info: FieldInfo) -> dict[str, Any]:
    """The ge/gt/le/lt bounds a field declares."""
    bounds: dict[str, Any] = {}
    for item in info.metadata:
        for name in ("ge", "gt", "le", "lt"):
            value = getattr(item, name, None)
            if value is not None:
                bounds[name] = value
    return bounds


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _range(bounds: dict[str, Any]) -> str:
    low = (">=", bounds["ge"]) if "ge" in bounds else (">", bounds["gt"]) if "gt" in bounds else None
    high = ("<=", bounds["le"]) if "le" in bounds else ("<", bounds["lt"]) if "lt" in bounds else None
    if low and high and low[0] == ">=" and high[0] == "<=":
        return f" from {low[1]} to {high[1]}"
    parts = [f"{bound[0]} {bound[1]}" for bound in (low, high) if bound is not None]
    return (" " + " and ".join(parts)) if parts else ""


def describe_annotation(annotation: Any, bounds: dict[str, Any] | None = None) -> str:
    """Plain words for what a field of this type (and these ge/gt/le/lt bounds) accepts."""
    bounds = bounds or {}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        text = " or ".join(describe_annotation(a, bounds) for a in rest)
        return text + " or None" if len(rest) < len(args) else text
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in annotation)
    if origin in (list, tuple, set, frozenset):
        item = describe_annotation(args[0]) if args else "any value"
        return f"a list whose items are each {item}"
    if origin is dict and len(args) == 2:
        return f"a dict of {describe_annotation(args[0])} -> {describe_annotation(args[1])}"
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "an integer" + _range(bounds)
    if annotation is float:
        return "a number" + _range(bounds)
    if annotation is str:
        return "a string"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a {annotation.__name__} or a dict of its fields"
    return getattr(annotation, "__name__", str(annotation))

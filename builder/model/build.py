"""Turn loaded profile data into a frozen Profile, or into located findings (schema check)."""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from builder.errors import BadInput, Finding, Location
from builder.load.yaml_source import Path_, format_key
from builder.model.profile import Profile

__all__ = ["Locate", "PathKey", "build_profile", "format_key"]

PathKey = Path_
Locate = Callable[[PathKey], Location]

_PLAINTEXT_HINT = (
    "plaintext passwords are not accepted; set password_hash to a crypt hash made with `openssl passwd -6`"
)


def build_profile(data: Mapping[str, Any], locate: Locate) -> Profile:
    """Validate `data` against the schema; raise BadInput listing every problem with its file:line."""
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        findings = [_finding(error, locate) for error in exc.errors(include_url=False, include_input=False)]
        raise BadInput(f"{len(findings)} schema error(s) in the profile", sorted(findings, key=_order)) from None


def _order(finding: Finding) -> tuple[str, int, str]:
    location = finding.location or Location("")
    return (location.file, location.line or 0, finding.key or "")


def _finding(error: ErrorDetails, locate: Locate) -> Finding:
    path: PathKey = tuple(part for part in error["loc"] if isinstance(part, str | int))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = _unknown_key_message(path)
    elif error["type"] == "missing":
        message = "required key is missing"
    return Finding(check="schema", message=message, location=locate(path), key=format_key(path))


def _unknown_key_message(path: PathKey) -> str:
    key = str(path[-1])
    if key in {"password", "plaintext_password", "rootpw"}:
        return f"unknown key; {_PLAINTEXT_HINT}"
    allowed = _fields_at(Profile, path[:-1])
    close = difflib.get_close_matches(key.lower(), sorted(allowed), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = f" (allowed here: {', '.join(sorted(allowed))})" if allowed and not close else ""
    return f"unknown key{hint}{known}"


def _fields_at(model: type[BaseModel], path: PathKey) -> set[str]:
    """Field names of the model found at `path`, following nested models, tuples and optionals."""
    current: Any = model
    for part in path:
        candidates = _models_in(current)
        if isinstance(part, int):
            continue
        nxt = None
        for candidate in candidates:
            field = candidate.model_fields.get(part)
            if field is not None:
                nxt = field.annotation
                break
        if nxt is None:
            return set()
        current = nxt
    names: set[str] = set()
    for candidate in _models_in(current):
        names.update(candidate.model_fields)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType, tuple, list):
        found: list[type[BaseModel]] = []
        for arg in get_args(annotation):
            found.extend(_models_in(arg))
        return found
    return []

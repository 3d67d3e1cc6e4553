"""Turn loaded profile data into a frozen Profile, or into located findings (schema check)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from builder.errors import BadInput, Finding, Location
from builder.model.profile import Profile
from builder.vocabulary import Locate, schema_findings

__all__ = ["build_profile"]

_PLAINTEXT_HINT = (
    "plaintext passwords are not accepted; set password_hash to a crypt hash made with `openssl passwd -6`"
)
_PLAINTEXT_KEYS = {key: f"unknown key; {_PLAINTEXT_HINT}" for key in ("password", "plaintext_password", "rootpw")}


def build_profile(data: Mapping[str, Any], locate: Locate) -> Profile:
    """Validate `data` against the schema; raise BadInput listing every problem with its file:line."""
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        findings = schema_findings(exc, Profile, locate, "schema", _PLAINTEXT_KEYS)
        raise BadInput(f"{len(findings)} schema error(s) in the profile", sorted(findings, key=_order)) from None


def _order(finding: Finding) -> tuple[str, int, str]:
    location = finding.location or Location("")
    return (location.file, location.line or 0, finding.key or "")

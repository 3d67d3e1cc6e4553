"""Findings as a SARIF 2.1.0 log, the format GitHub code scanning reads (`github/codeql-action/upload-sarif`).

One run, tool `ksbuild`, with every rule of the catalogue (id, name, descriptions, help with example and fix, default
level for a hand-written kickstart) and one result per finding: ruleId, ruleIndex, level (error, warning, note), the
message, and the file and line (line 1 for findings about a whole file, as code scanning needs a line). Relative
paths stay relative (to the folder `ksbuild validate` ran in, normally the repository root).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from builder.errors import Finding, Severity
from builder.rules import CATALOGUE, FAMILIES, Rule

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVELS: dict[Severity, str] = {"error": "error", "warning": "warning", "info": "note"}
_FALLBACK_RULE = "KS002"


def _help(rule: Rule) -> dict[str, str]:
    text = f"{rule.explanation}\n\nExample:\n{rule.example}\n\nFix: {rule.fix}"
    markdown = f"{rule.explanation}\n\n**Example**\n\n```\n{rule.example}\n```\n\n**Fix**: {rule.fix}"
    return {"text": text, "markdown": markdown}


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.why},
        "fullDescription": {"text": rule.explanation},
        "help": _help(rule),
        "defaultConfiguration": {"level": _LEVELS[rule.kickstart]},
        "properties": {"tags": [FAMILIES[rule.id[:3]]]},
    }


def _uri(file: str) -> str:
    path = PurePath(file)
    return path.as_uri() if path.is_absolute() else path.as_posix()


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    rule_id = finding.rule if finding.rule in index else _FALLBACK_RULE
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index[rule_id],
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{finding.key}: {finding.message}" if finding.key else finding.message},
    }
    if finding.location is not None:
        result["locations"] = [{
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(finding.location.file)},
                "region": {"startLine": finding.location.line or 1},
            }
        }]
    return result


def sarif_log(findings: Sequence[Finding], version: str) -> dict[str, Any]:
    """A SARIF log of these findings from ksbuild `version`."""
    index = {rule.id: number for number, rule in enumerate(CATALOGUE)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ksbuild",
                "version": version,
                "rules": [_rule(rule) for rule in CATALOGUE],
            }},
            "results": [_result(finding, index) for finding in findings],
        }],
    }

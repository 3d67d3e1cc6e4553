"""The README is the user's reference: every profile key is documented there, and its commands exist."""

from __future__ import annotations

import re

from builder.cli.main import cli, main  # noqa: F401 - main registers the optional command groups
from builder.model.profile import Profile
from builder.vocabulary import models_in
from tests.helpers import REPO

README = (REPO / "README.md").read_text()


def _leaf_keys(model: type, prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        path = f"{prefix}{name}"
        nested = models_in(field.annotation)
        if nested:
            many = "tuple" in str(field.annotation)
            keys |= _leaf_keys(nested[0], f"{path}{'[]' if many else ''}.")
        else:
            keys.add(path)
    return keys


def _documented() -> set[str]:
    documented = set()
    for row in README.splitlines():
        if not row.startswith("| `"):
            continue
        first_cell = row.split("|")[1]
        tokens = re.findall(r"`([^`]+)`", first_cell)
        base = ""
        for token in tokens:
            if token.startswith(".") and base:
                documented.add(base.rsplit(".", 1)[0] + token)
            else:
                base = token
                documented.add(token)
    return documented


def test_every_profile_key_is_in_the_readme() -> None:
    missing = sorted(_leaf_keys(Profile) - _documented())
    assert missing == [], f"document these keys in README.md: {missing}"


def test_the_readme_commands_exist() -> None:
    from click.testing import CliRunner

    from builder.cli.main import _register_optional_commands

    _register_optional_commands()
    for command in re.findall(r"^\| `ksbuild ([a-z-]+(?: [a-z]+)?)", README, re.MULTILINE):
        words = command.split()
        result = CliRunner().invoke(cli, [*words, "--help"])
        assert result.exit_code == 0, (command, result.output)

"""Shared pytest options and fixtures."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen", action="store_true", default=False, help="rewrite golden files instead of comparing")


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    """True when golden files should be rewritten (pytest --regen)."""
    return bool(request.config.getoption("--regen"))

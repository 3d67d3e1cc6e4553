"""Property tests: whatever a profile file holds, ksbuild answers with a result or a located user error,
never with a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.errors import KsbuildError
from builder.pipeline import build
from tests.helpers import MINIMAL

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["192.168.80.1", "br0", "%end", "$(id)", "a\nb", "enp2s0f0", "10.0.0.1/8"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
KEYS = ["install", "system", "users", "storage", "packages", "virtualization", "network", "scripts", "seal",
        "templates", "extends", "description", "target"]
BASE: dict[str, Any] = yaml.safe_load(MINIMAL)


def _build(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prop.yaml"
        path.write_text(text)
        try:
            build(path, shell=False)
        except KsbuildError as exc:
            assert exc.message
            for finding in exc.findings:
                assert finding.format()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=values)
def test_any_value_at_a_top_level_key(key: str, value: Any) -> None:
    data = dict(BASE)
    data[key] = value
    _build(yaml.safe_dump(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.sampled_from(["system", "network", "users", "install"]), key=st.text(max_size=12), value=values)
def test_any_value_inside_a_section(section: str, key: str, value: Any) -> None:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    data[section][key] = value
    _build(yaml.safe_dump(data))


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text(text: str) -> None:
    _build(text)

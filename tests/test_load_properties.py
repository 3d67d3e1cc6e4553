"""Properties of the load stage over generated input: never a traceback, and what is shown reads back."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from builder.errors import BadInput
from builder.load import format_key, load_profile, parse_override, render_provenance
from builder.load.show import format_scalar
from tests.helpers import Workdir

# Pure-Python YAML parsing dominates: counts chosen to keep this file to a few seconds on two cores.
SETTINGS = settings(
    deadline=None, max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Characters YAML gives meaning to, so generated text reaches deep into the scanner and parser.
YAML_ALPHABET = st.sampled_from([*"ab:- \n\t[]{}&*!|>'\"#,?<=~0123456789.%@`\\x", "<<", "---", "\ufeff", "é"])

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
KEYS = st.text(max_size=12)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)
# `extends` at the top level names a base profile: that is tested in test_load_extends.
PROFILES = st.dictionaries(KEYS.filter(lambda key: key != "extends"), TREES, max_size=6)


def without_null_entries(value: Any) -> Any:
    """The merge rule's "null means not set", written out independently for the expectation."""
    if isinstance(value, dict):
        return {k: without_null_entries(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_null_entries(v) for v in value]
    return value


def loads_or_refuses(path: Path) -> None:
    try:
        profile = load_profile(path)
    except BadInput as refused:
        assert refused.findings, "a refusal must say what is wrong"
        for finding in refused.findings:
            assert finding.location is not None
            assert Path(finding.location.file).resolve() == path.resolve()
        return
    assert isinstance(profile.data, dict)
    render_provenance(profile)


@SETTINGS
@given(text=st.text(max_size=300))
def test_any_text_loads_or_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    loads_or_refuses(path)


@SETTINGS
@given(text=st.lists(YAML_ALPHABET, max_size=120).map("".join))
def test_yaml_shaped_noise_loads_or_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    loads_or_refuses(path)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_any_bytes_load_or_are_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(data)
    loads_or_refuses(path)


@settings(SETTINGS, max_examples=40)
@given(data=PROFILES)
def test_dumped_data_loads_as_itself_and_shows_as_itself(tmp_path: Path, data: dict[str, Any]) -> None:
    work = Workdir(tmp_path)
    source = work.path("p.yaml")
    dumped = yaml.safe_dump(data)
    assume(yaml.safe_load(dumped) == data)  # a test of the load stage, not of PyYAML's dumper
    source.write_text(dumped, encoding="utf-8")
    profile = work.load(source)
    expected = without_null_entries(data)
    assert profile.data == expected

    rendered = render_provenance(profile)
    assert yaml.safe_load(rendered) == expected
    shown = work.write("shown.yaml", rendered)
    assert work.load(shown).data == expected
    # Every line but a bare `key:` carries an origin comment pointing into the source file.
    for line in rendered.splitlines():
        assert line == "{}" or line.endswith(":") or "  # p.yaml:" in line


PATH_PARTS = st.text(max_size=8) | st.integers(min_value=0, max_value=99)


@settings(deadline=None, max_examples=100)
@given(
    first=st.text(max_size=8),
    rest=st.lists(PATH_PARTS, max_size=5),
    value=SCALARS.filter(lambda v: v is not None),
)
def test_set_reads_what_format_key_and_format_scalar_write(
    first: str, rest: list[str | int], value: Any
) -> None:
    path = (first, *rest)
    parsed_path, parsed_value = parse_override(f"{format_key(path)}={format_scalar(value)}")
    assert parsed_path == path
    assert parsed_value == value or (isinstance(value, float) and math.isnan(parsed_value))
    assert type(parsed_value) is type(value)


SET_ALPHABET = st.sampled_from([*'abc.[]0123"=:- {},\\', "[0]", '["', "a.b", "=null", "=[1]", "={x: 1}"])


@SETTINGS
@given(texts=st.lists(st.text(max_size=30) | st.lists(SET_ALPHABET, max_size=12).map("".join), max_size=3))
def test_any_set_option_applies_or_is_refused(tmp_path: Path, texts: list[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a:\n  b: [1, {c: 2}]\n  d: text\n", encoding="utf-8")
    try:
        profile = load_profile(path, overrides=texts)
    except BadInput as refused:
        assert refused.findings
        assert all(f.location is not None and f.location.file.startswith("--set ") for f in refused.findings)
        return
    render_provenance(profile)

"""Property tests: whatever a profile file holds, ksbuild answers with a result or a located user error,
never with a traceback; and a result it answers with keeps what a successful build guarantees: the kickstart
parses, building again gives the same bytes and findings, every finding points into the profile, and the
model's values are in the kickstart where pykickstart reads them back."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.errors import KsbuildError
from builder.pipeline import BuildResult, build
from builder.validate.kickstart import parse_kickstart
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
            result = build(path, shell=False)
        except KsbuildError as exc:
            assert exc.message
            for finding in exc.findings:
                assert finding.format()
            return
        _assert_what_a_build_guarantees(path, result)


def _assert_what_a_build_guarantees(path: Path, result: BuildResult) -> None:
    again = build(path, shell=False)
    assert again.kickstart.text == result.kickstart.text
    assert again.findings == result.findings
    for finding in result.findings:
        assert finding.location is not None and finding.location.file == str(path), finding
    if not result.ok:
        return
    parsed = parse_kickstart(result.kickstart.text, "prop.ks")
    assert not [f for f in parsed.findings if f.severity == "error"], parsed.findings
    # Each value where the model says it goes, as pykickstart reads the kickstart back.
    handler, profile = parsed.handler, result.profile
    assert handler.network.network[0].hostname == profile.system.hostname
    assert handler.timezone.timezone == profile.system.timezone
    assert handler.lang.lang == profile.system.lang
    assert handler.keyboard.vc_keymap == profile.system.keyboard.vckeymap
    assert tuple(handler.keyboard.x_layouts) == profile.system.keyboard.layouts
    assert handler.ignoredisk.onlyuse == list(profile.storage.disks)
    assert set(profile.packages.install) <= set(handler.packages.packageList)
    assert handler.services.enabled == list(profile.system.services.enabled)
    assert handler.services.disabled == list(profile.system.services.disabled)
    assert [repo.name for repo in handler.repo.repoList] == [r.name for r in profile.install.repos if r.install]
    assert [user.name for user in handler.user.userList] == [account.name for account in profile.users.accounts]
    assert handler.rootpw.password == (profile.users.root.password_hash or "")
    assert f"profile={result.name}" in result.kickstart.text  # the success marker names the profile


def test_the_minimal_profile_keeps_every_guarantee(tmp_path: Path) -> None:
    # The properties below mostly produce refused profiles; this one is built for sure.
    path = tmp_path / "prop.yaml"
    path.write_text(MINIMAL)
    result = build(path, shell=False)
    assert result.ok, result.findings
    _assert_what_a_build_guarantees(path, result)


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

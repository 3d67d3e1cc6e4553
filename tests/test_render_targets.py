"""One profile, three targets: the kickstart each gets (reviewed golden files, `pytest --regen`), read back with the
target's own pykickstart handler and with pykickstart's ksvalidator, and zero findings for every shipped and
example profile on every target it is meant for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builder.pipeline import build
from builder.validate.kickstart import handler_version, parse_kickstart
from tests.helpers import ROOT_HASH, SHIPPED_PROFILES, SSH_KEY, write

GOLDEN = Path(__file__).parent / "golden" / "kickstarts" / "targets"
TARGETS = ("centos7", "el8", "el9")
HYPERVISOR = SHIPPED_PROFILES / "kvm-hypervisor.yaml"
EXAMPLES = sorted((SHIPPED_PROFILES / "examples").glob("*.yaml"))


@pytest.mark.parametrize("target", TARGETS)
def test_hypervisor_matches_golden(target: str, regen: bool) -> None:
    result = build(HYPERVISOR, overrides=[f"target={target}"])
    assert [f.format() for f in result.findings] == []
    golden = GOLDEN / f"kvm-hypervisor.{target}.ks.cfg"
    if regen:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(result.kickstart.text)
    assert result.kickstart.text == golden.read_text(), f"render for {target} changed; review and run pytest --regen"


def test_centos7_is_what_it_was() -> None:
    """The CentOS 7 kickstart of the shipped profile is byte-identical to the one before targets existed."""
    before = (Path(__file__).parent / "golden" / "kickstarts" / "kvm-hypervisor.ks.cfg").read_text()
    assert build(HYPERVISOR).kickstart.text == before
    assert (GOLDEN / "kvm-hypervisor.centos7.ks.cfg").read_text() == before


@pytest.mark.parametrize("profile", [HYPERVISOR, *EXAMPLES], ids=lambda p: p.stem)
@pytest.mark.parametrize("target", TARGETS)
def test_no_findings_on_any_target(profile: Path, target: str) -> None:
    """pykickstart with the target's handler (warnings, deprecations included), shellcheck, policy: no error and no
    warning; the notes a profile gets on CentOS 7 (an install-time %include) are the same on every target."""
    result = build(profile, overrides=[f"target={target}"])
    assert [f.format() for f in result.findings if f.severity != "info"] == []
    notes = [(f.rule, f.key) for f in result.findings if f.severity == "info"]
    assert notes == [(f.rule, f.key) for f in build(profile).findings if f.severity == "info"]


@pytest.mark.parametrize("target", ["centos7", "rocky8", "alma9", "centos-stream9"])
def test_base_needs_no_source_where_the_alias_has_a_mirror(target: str) -> None:
    result = build(SHIPPED_PROFILES / "base.yaml", overrides=[f"target={target}"])
    assert [f.format() for f in result.findings] == []


@pytest.mark.parametrize("target", ["el9", "rhel8"])
def test_base_on_a_target_without_a_mirror_asks_for_a_source(target: str) -> None:
    result = build(SHIPPED_PROFILES / "base.yaml", overrides=[f"target={target}"], shell=False)
    assert [(f.key, f.severity) for f in result.findings if f.check == "semantic"] == [("install.source", "error")]
    assert f"{target} has no public tree" in result.errors[0].message


@pytest.mark.parametrize(("target", "version"), [("el8", "RHEL8"), ("el9", "RHEL9")])
def test_pykickstarts_own_validator_accepts_it(target: str, version: str, tmp_path: Path) -> None:
    """ksvalidator -v RHEL8/RHEL9 fails on deprecations too (docs/measure/shipped_profile_ksvalidator.out)."""
    text = build(HYPERVISOR, overrides=[f"target={target}"], shell=False).kickstart.text
    path = write(tmp_path / "ks.cfg", text)
    ksvalidator = Path(sys.executable).parent / "ksvalidator"
    done = subprocess.run([str(ksvalidator), "-v", version, str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _parsed(target: str, *overrides: str) -> object:
    result = build(HYPERVISOR, overrides=[f"target={target}", *overrides], shell=False)
    assert result.ok, [f.format() for f in result.findings]
    version = {"centos7": "RHEL7", "el8": "RHEL8", "el9": "RHEL9"}[target]
    parsed = parse_kickstart(result.kickstart.text, "ks.cfg", version=handler_version(version))
    assert parsed.findings == ()
    return parsed


def test_el9_kickstart_as_anaconda_34_reads_it() -> None:
    parsed = _parsed("el9", "system.ntp_servers=[ntp1.lab.local, ntp2.lab.local]")
    handler = parsed.handler  # type: ignore[attr-defined]
    text = str(handler)
    assert "\ninstall\n" not in text
    assert handler.url.url == "http://192.168.80.1/el9/BaseOS/x86_64/os/"
    repos = {repo.name: repo.baseurl for repo in handler.repo.dataList()}
    assert repos["AppStream"] == "http://192.168.80.1/el9/AppStream/x86_64/os/"
    assert [s.ntp_server for s in handler.timesource.dataList()] == ["ntp1.lab.local", "ntp2.lab.local"]
    assert not handler.timezone.ntpservers
    assert handler.rootpw.allow_ssh is True


def test_el8_keeps_ntpservers_and_has_no_allow_ssh() -> None:
    parsed = _parsed("el8", "system.ntp_servers=[ntp1.lab.local]")
    handler = parsed.handler  # type: ignore[attr-defined]
    assert handler.timezone.ntpservers == ["ntp1.lab.local"]
    assert "timesource" not in handler.commands or not handler.commands["timesource"].seen
    assert {repo.name for repo in handler.repo.dataList()} == {"AppStream", "local"}


@pytest.mark.parametrize(("target", "header"), [
    # docs/targets.md §1: --excludeWeakdeps on RHEL8, --exclude-weakdeps/--inst-langs on RHEL9, --instLangs before.
    ("centos7", "%packages --instLangs=en_US"),
    ("el8", "%packages --excludeWeakdeps --instLangs=en_US"),
    ("el9", "%packages --exclude-weakdeps --inst-langs=en_US"),
])
def test_packages_options_are_spelled_per_target(target: str, header: str) -> None:
    result = build(HYPERVISOR, overrides=[f"target={target}", "packages.weak_dependencies=false",
                                          "packages.languages=[en_US]"])
    assert [f.format() for f in result.findings] == []
    assert header + "\n" in result.kickstart.text


def test_allow_ssh_only_when_asked() -> None:
    overrides = ["target=el9", "users.root.ssh_password=false", f"users.root.ssh_keys=['{SSH_KEY}']"]
    result = build(HYPERVISOR, overrides=overrides, shell=False)
    assert result.ok
    assert "--allow-ssh" not in result.kickstart.text


@pytest.mark.parametrize(("alias", "baseos"), [
    ("rocky9", "https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/"),
    ("alma8", "https://repo.almalinux.org/almalinux/8/BaseOS/x86_64/os/"),
    ("centos-stream9", "https://mirror.stream.centos.org/9-stream/BaseOS/x86_64/os/"),
])
def test_an_alias_without_a_source_uses_its_public_mirror(alias: str, baseos: str, tmp_path: Path) -> None:
    profile = write(tmp_path / "host.yaml", f"""\
        target: {alias}
        system: {{hostname: kvm01.lab.local}}
        users: {{root: {{password_hash: "{ROOT_HASH}", ssh_password: true}}}}
        """)
    text = build(profile).kickstart.text
    appstream = baseos.replace("/BaseOS/", "/AppStream/")
    assert f"url --url={baseos}\nrepo --name=AppStream --baseurl={appstream}\n" in text


def test_a_tree_root_gets_no_appstream_line_and_a_note(tmp_path: Path) -> None:
    result = build(HYPERVISOR, overrides=["target=rhel9", "install.source.url=http://192.168.80.1/rhel9-dvd/"],
                   shell=False)
    assert "repo --name=AppStream" not in result.kickstart.text
    assert [(f.key, f.severity) for f in result.findings] == [("install.source.url", "info")]


@pytest.mark.parametrize("target", ["el8", "el9"])
def test_boot_test_variant_is_clean(target: str) -> None:
    """The verification unit for the target passes the same checks, and its script passes shellcheck."""
    from builder.render.kickstart import render_kickstart
    from builder.render.verify_plan import verify_plan
    from builder.validate.pipeline import validate_kickstart_text

    result = build(HYPERVISOR, overrides=[f"target={target}"], shell=False)
    plan = verify_plan(result.profile, "kvm-hypervisor")
    variant = render_kickstart(result.profile, "kvm-hypervisor", verify=plan)
    assert [f.format() for f in validate_kickstart_text(variant.text, "ks.cfg").findings] == []
    script = variant.text.split("cat > /usr/local/sbin/ksbuild-verify <<'KSBUILD_EOF'\n", 1)[1].split("KSBUILD_EOF")[0]
    inner = validate_kickstart_text(f"%post --interpreter=/bin/bash\n{script}%end\n", "ksbuild-verify")
    assert [f.format() for f in inner.findings if f.check in {"shellcheck", "bash"}] == []
    kinds = {(f.kind, f.name, f.mode) for f in plan.ifcfg}
    if target == "el9":
        assert kinds == {("keyfile", "enp2s0f0", "0600"), ("keyfile", "br0", "0600")}
        assert "report keyfile:br0 pass" in script
    else:
        assert kinds == {("ifcfg", "enp2s0f0", "0644"), ("ifcfg", "br0", "0644")}

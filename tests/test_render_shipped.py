"""Every shipped profile, three ways: exact expected render (reviewed golden files), pykickstart acceptance,
shellcheck and bash -n clean. Regenerate the golden files with `pytest --regen` and review the diff."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.pipeline import build
from builder.render.verify_plan import verify_plan
from builder.validate.pipeline import validate_kickstart_text
from tests.helpers import SHIPPED_PROFILES

GOLDEN = Path(__file__).parent / "golden" / "kickstarts"
PROFILES = sorted(p.stem for p in SHIPPED_PROFILES.glob("*.yaml"))
EXAMPLES = sorted(f"examples/{p.stem}" for p in SHIPPED_PROFILES.glob("examples/*.yaml"))


def test_the_shipped_set() -> None:
    assert {"base", "kvm-hypervisor", "golden-image"} <= set(PROFILES)


@pytest.mark.parametrize("name", PROFILES)
def test_render_matches_golden(name: str, regen: bool) -> None:
    result = build(SHIPPED_PROFILES / f"{name}.yaml")
    assert result.ok, [f.format() for f in result.findings]
    golden = GOLDEN / f"{name}.ks.cfg"
    if regen:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(result.kickstart.text)
    assert result.kickstart.text == golden.read_text(), f"render of {name} changed; review and run pytest --regen"


@pytest.mark.parametrize("name", PROFILES)
def test_no_findings_at_all(name: str) -> None:
    """pykickstart (RHEL7, warnings as errors), shellcheck, bash -n and policy: not even a warning."""
    result = build(SHIPPED_PROFILES / f"{name}.yaml")
    assert [f.format() for f in result.findings] == []


@pytest.mark.parametrize("name", PROFILES + EXAMPLES)
def test_boot_test_variant_is_clean(name: str) -> None:
    """The verification unit added for boot tests passes the same checks, and its script passes shellcheck."""
    result = build(SHIPPED_PROFILES / f"{name}.yaml")
    from builder.render.kickstart import render_kickstart

    variant = render_kickstart(result.profile, name, verify=verify_plan(result.profile, name))
    report = validate_kickstart_text(variant.text, f"{name}/ks.cfg")
    # No finding the plain render does not have too (an example may carry an expected info finding).
    plain = validate_kickstart_text(result.kickstart.text, f"{name}/ks.cfg")
    assert {(f.rule, f.message) for f in report.findings} <= {(f.rule, f.message) for f in plain.findings}
    script = variant.text.split("cat > /usr/local/sbin/ksbuild-verify <<'KSBUILD_EOF'\n", 1)[1].split("KSBUILD_EOF")[0]
    inner = validate_kickstart_text(f"%post --interpreter=/bin/bash\n{script}%end\n", "ksbuild-verify")
    assert [f.format() for f in inner.findings if f.check in {"shellcheck", "bash"}] == []


def test_kvm_hypervisor_is_the_lab_host() -> None:
    """The lab guide's host, read from the rendered kickstart the way anaconda will read it."""
    from builder.validate.kickstart import parse_kickstart

    result = build(SHIPPED_PROFILES / "kvm-hypervisor.yaml")
    parsed = parse_kickstart(result.kickstart.text, "ks.cfg")
    handler = parsed.handler
    assert handler.selinux.selinux == 0  # SELINUX_DISABLED
    assert handler.firewall.enabled is False
    assert "libvirtd" in handler.services.enabled
    assert "NetworkManager" in handler.services.disabled
    assert handler.reboot.action is not None
    assert {"qemu-kvm*", "virt-*", "libvirt*", "bridge-utils"} <= set(handler.packages.packageList)
    posts = "\n".join(s.body for s in parsed.scripts if s.kind == "post")
    assert "options kvm_intel nested=1" in posts and "options kvm_amd nested=1" in posts
    assert "BRIDGE=br0" in posts and "TYPE=Bridge" in posts and "STP=yes" in posts
    assert "IPADDR=192.168.80.40" in posts and "GATEWAY=192.168.80.1" in posts
    assert "DNS1=114.114.114.114" in posts and "DNS2=8.8.8.8" in posts
    for typo in ("ONBBOT", "sysconfi/"):
        assert typo not in result.kickstart.text

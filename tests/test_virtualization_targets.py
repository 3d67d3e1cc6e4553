"""Virtualization per target: libvirt's daemons (modular on EL9), and the nested-virtualization modprobe file only
where it changes what the target's kernel does by itself."""

from __future__ import annotations

import pytest

from builder.pipeline import build
from builder.render.verify_plan import verify_plan
from tests.helpers import SHIPPED_PROFILES

HYPERVISOR = SHIPPED_PROFILES / "kvm-hypervisor.yaml"
# libvirt.spec (libvirt 8.0, with_modular_daemons for rhel >= 9): each driver daemon's %post enables its .socket,
# -ro.socket, -admin.socket and .service; these are the ones a hypervisor needs at boot or on demand.
EL9_LIBVIRT = {"virtqemud.service", "virtqemud.socket", "virtnetworkd.service", "virtstoraged.service",
               "virtproxyd.socket"}


def _services(text: str) -> tuple[list[str], list[str]]:
    line = next(line for line in text.splitlines() if line.startswith("services "))
    enabled = disabled = ""
    for word in line.split()[1:]:
        if word.startswith("--enabled="):
            enabled = word.split("=", 1)[1]
        if word.startswith("--disabled="):
            disabled = word.split("=", 1)[1]
    return enabled.split(","), disabled.split(",") if disabled else []


@pytest.mark.parametrize("target", ["centos7", "el8"])
def test_libvirtd_is_libvirtd_before_el9(target: str) -> None:
    enabled, _ = _services(build(HYPERVISOR, overrides=[f"target={target}"], shell=False).kickstart.text)
    assert enabled == ["libvirtd"]


def test_el9_enables_the_modular_daemons_for_libvirtd() -> None:
    result = build(HYPERVISOR, overrides=["target=rocky9"], shell=False)
    enabled, disabled = _services(result.kickstart.text)
    assert set(enabled) >= EL9_LIBVIRT
    assert "libvirtd" not in enabled and disabled == ["firewalld"]
    assert len(enabled) == len(set(enabled))
    plan = verify_plan(result.profile, "kvm-hypervisor")
    assert set(plan.services_enabled) >= EL9_LIBVIRT  # the verification boot checks each one
    assert "virtqemud.service" in plan.after


def test_libvirtd_disabled_on_el9_disables_the_daemons() -> None:
    result = build(HYPERVISOR, overrides=["target=el9", "system.services.enabled=[]",
                                          "system.services.disabled=[libvirtd]"], shell=False)
    _, disabled = _services(result.kickstart.text)
    assert "virtqemud.socket" in disabled and "libvirtd" not in disabled


def _nested_file(target: str, *overrides: str) -> list[str] | None:
    text = build(HYPERVISOR, overrides=[f"target={target}", *overrides], shell=False).kickstart.text
    if "/etc/modprobe.d/kvm-nested.conf" not in text:
        return None
    body = text.split("cat > /etc/modprobe.d/kvm-nested.conf <<'KSBUILD_EOF'\n", 1)[1].split("KSBUILD_EOF", 1)[0]
    return [line for line in body.splitlines() if line.startswith("options ")]


@pytest.mark.parametrize(("target", "overrides", "lines"), [
    # CentOS 7 (3.10) and EL8 (4.18) do not nest by default: nested=1 is written, as before.
    ("centos7", (), ["options kvm_intel nested=1", "options kvm_amd nested=1"]),
    ("el8", ("virtualization.cpu=intel",), ["options kvm_intel nested=1"]),
    ("centos7", ("virtualization.nested=false",), None),
    # EL9 (5.14) nests by default (Linux 4.20+): nothing to write, unless nesting is to be off.
    ("el9", (), None),
    ("el9", ("virtualization.nested=false",), ["options kvm_intel nested=0", "options kvm_amd nested=0"]),
    ("el9", ("virtualization.nested=false", "virtualization.cpu=amd"), ["options kvm_amd nested=0"]),
])
def test_nested_file_only_where_it_changes_the_default(target: str, overrides: tuple[str, ...],
                                                       lines: list[str] | None) -> None:
    assert _nested_file(target, *overrides) == lines


def test_el9_verification_still_reads_the_kernel_parameter() -> None:
    """No file on EL9, but the verification boot proves the default: nested-param, not nested-config."""
    result = build(HYPERVISOR, overrides=["target=el9"], shell=False)
    plan = verify_plan(result.profile, "kvm-hypervisor")
    assert plan.nested and plan.nested_options == ()
    off = build(HYPERVISOR, overrides=["target=el9", "virtualization.nested=false"], shell=False)
    assert verify_plan(off.profile, "x").nested_options == (("kvm_intel", 0), ("kvm_amd", 0))

"""The CLI as a user meets it: separate processes, real exit codes, messages with file:line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import MINIMAL, REPO, SHIPPED_PROFILES, run_cli, write


def test_render_shipped_profile(tmp_path: Path) -> None:
    result = run_cli("render", str(SHIPPED_PROFILES / "kvm-hypervisor.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote output/kvm-hypervisor/ks.cfg" in result.stdout
    assert (tmp_path / "output/kvm-hypervisor/ks.cfg").is_file()


def test_bad_yaml_exits_2_with_location_and_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "profiles/lab.yaml", MINIMAL.replace("  hostname: kvm01.lab.local", "  hostname: [kvm01"))
    result = run_cli("render", "profiles/lab.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "profiles/lab.yaml:5: YAML error" in result.stderr and "line 4" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "output").exists()


def test_schema_error_exits_2_naming_file_line_key(tmp_path: Path) -> None:
    write(tmp_path / "profiles/lab.yaml", MINIMAL.replace("192.168.80.40/24", "192.168.80.400/24"))
    result = run_cli("render", "profiles/lab.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "profiles/lab.yaml:14: network.bridges[0].ipv4.address: '192.168.80.400/24' is not an IPv4" in result.stderr
    assert "Traceback" not in result.stderr


def test_semantic_error_exits_1(tmp_path: Path) -> None:
    write(tmp_path / "profiles/lab.yaml", MINIMAL.replace("gateway: 192.168.80.1", "gateway: 10.9.9.9"))
    result = run_cli("render", "profiles/lab.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "profiles/lab.yaml:14: network.bridges[0].ipv4.gateway: gateway 10.9.9.9 is outside" in result.stderr
    assert not (tmp_path / "output").exists()


def test_missing_profile_exits_2(tmp_path: Path) -> None:
    result = run_cli("render", "nope.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr and "Traceback" not in result.stderr


def test_unknown_option_exits_2(tmp_path: Path) -> None:
    assert run_cli("render", "--frobnicate", cwd=tmp_path).returncode == 2


def test_set_overrides_a_value(tmp_path: Path) -> None:
    result = run_cli("render", str(SHIPPED_PROFILES / "kvm-hypervisor.yaml"), "--set", "system.selinux=permissive",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "selinux --permissive" in (tmp_path / "output/kvm-hypervisor/ks.cfg").read_text()
    manifest = json.loads((tmp_path / "output/kvm-hypervisor/manifest.json").read_text())
    assert manifest["overrides"] == ["system.selinux=permissive"]


def test_validate_profiles_and_kickstarts_json(tmp_path: Path) -> None:
    good = SHIPPED_PROFILES / "kvm-hypervisor.yaml"
    bad_ks = write(tmp_path / "hand.ks", "text\nrootpw --plaintext Tr0ub4dor\nbogus --x\n")
    result = run_cli("validate", str(good), str(bad_ks), "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [i["ok"] for i in report["inputs"]] == [True, False]
    lines = {f["line"] for f in report["inputs"][1]["findings"]}
    assert 3 in lines  # the unknown command
    assert {f["rule"] for f in report["inputs"][1]["findings"]} >= {"KS101", "KS301"}
    assert "Tr0ub4dor" not in result.stdout


def test_validate_gives_every_input_its_result_when_one_cannot_be_read(tmp_path: Path) -> None:
    write(tmp_path / "long.yaml", "extends: " + "x" * 300 + "\n")
    (tmp_path / "loop1.yaml").symlink_to("loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to("loop1.yaml")
    good = str(SHIPPED_PROFILES / "kvm-hypervisor.yaml")
    result = run_cli("validate", "long.yaml", "loop1.yaml", good, "--no-shellcheck", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    inputs = json.loads(result.stdout)["inputs"]
    assert [(i["source"], i["ok"]) for i in inputs] == [("long.yaml", False), ("loop1.yaml", False), (good, True)]
    (long_extends,) = inputs[0]["findings"]
    assert (long_extends["file"], long_extends["line"], long_extends["key"]) == ("long.yaml", 1, "extends")
    assert long_extends["message"].endswith("its name is too long for the file system")
    assert [f["message"] for f in inputs[1]["findings"]] == ["is a symbolic link loop"]


def test_validate_text_names_every_input(tmp_path: Path) -> None:
    result = run_cli("validate", str(SHIPPED_PROFILES / "base.yaml"), str(SHIPPED_PROFILES / "golden-image.yaml"),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok") == 2


def test_show_gives_each_value_its_origin(tmp_path: Path) -> None:
    result = run_cli("show", str(SHIPPED_PROFILES / "kvm-hypervisor.yaml"), cwd=REPO)
    assert result.returncode == 0, result.stderr
    hostname = next(line for line in result.stdout.splitlines() if "hostname:" in line)
    assert "kvm01.lab.local" in hostname and "profiles/kvm-hypervisor.yaml:" in hostname
    keyboard = next(line for line in result.stdout.splitlines() if "keyboard:" in line)
    assert "profiles/base.yaml:" in keyboard


def test_list_shows_shipped_profiles(tmp_path: Path) -> None:
    result = run_cli("list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = {line.split()[0] for line in result.stdout.splitlines()}
    assert {"base", "kvm-hypervisor", "golden-image"} <= names
    assert "KVM hypervisor (CentOS 7, EL8, EL9), bridged, nested virtualization" in result.stdout


def test_schema_describes_profiles(tmp_path: Path) -> None:
    result = run_cli("schema", cwd=tmp_path)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"install", "system", "users", "network", "virtualization"} <= set(schema["properties"])


def test_templates_override_one_snippet(tmp_path: Path) -> None:
    site = write(tmp_path / "site/snippets/post-extra.j2", """\
        {% import "macros.j2" as m with context %}
        {% call m.section("post", "site-agent") %}
        echo site agent for {{ profile.system.hostname|shq }} > /etc/site-agent
        {% endcall %}
        """)
    assert site.exists()
    result = run_cli("render", str(SHIPPED_PROFILES / "kvm-hypervisor.yaml"), "--templates", "site", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "output/kvm-hypervisor/ks.cfg").read_text()
    assert "echo site agent for kvm01.lab.local > /etc/site-agent" in text
    assert text.index("site-agent") < text.index("install-complete")


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0 and "ksbuild" in result.stdout


OTHER_HASH = "$6$othersalt1234567$" + "A" * 86


def test_a_secret_given_by_set_is_not_recorded_in_the_manifest(tmp_path: Path) -> None:
    result = run_cli("render", str(SHIPPED_PROFILES / "kvm-hypervisor.yaml"), "-o", "out",
                     "--set", f"users.root.password_hash={OTHER_HASH}", "--set", "system.selinux=permissive",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert OTHER_HASH in (tmp_path / "out/ks.cfg").read_text()  # it is used...
    manifest = (tmp_path / "out/manifest.json").read_text()
    assert OTHER_HASH not in manifest and "othersalt" not in manifest  # ...but not recorded
    assert json.loads(manifest)["overrides"] == [
        "users.root.password_hash=(secret, not shown)", "system.selinux=permissive"
    ]


@pytest.mark.parametrize("option", [
    "users.root.password=hunter2-plain",
    "users.root={password: hunter2-plain}",
    "users.root.password_hash=hunter2-plain",
    "users.root.password_hash=[hunter2-plain",
    "users.root.password_hash.x=hunter2-plain",
])
def test_a_plaintext_given_by_set_is_never_echoed(tmp_path: Path, option: str) -> None:
    # In error messages, text or JSON. (`show` prints the merged profile, the value included: that is its job.)
    for command, output_format in (("render", "text"), ("validate", "json")):
        result = run_cli(command, str(SHIPPED_PROFILES / "kvm-hypervisor.yaml"), "--set", option, "--format",
                         output_format, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "hunter2" not in result.stdout + result.stderr, command

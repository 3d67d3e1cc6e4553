"""kickstart.extra_commands: commands without a profile key, written as given, and still held to the rules a
rendered kickstart gets (pykickstart, secrets, one command per setting), each problem at its profile line."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.pipeline import build
from tests.helpers import MINIMAL, REPO, ROOT_HASH, at, run_cli, schema_errors, write

EXTRA = MINIMAL + """\
kickstart:
  extra_commands:
"""


def _profile(tmp_path: Path, *lines: str) -> Path:
    return write(tmp_path / "host.yaml", EXTRA + "".join(f"    - {line}\n" for line in lines))


def test_lines_are_written_as_given_after_the_commands(tmp_path: Path) -> None:
    result = build(_profile(tmp_path, "eula --agreed", "'auth --enableshadow --passalgo=sha512'"), shell=False)
    assert result.ok, [f.format() for f in result.errors]
    lines = result.kickstart.text.splitlines()
    assert lines.index("eula --agreed") + 1 == lines.index("auth --enableshadow --passalgo=sha512")
    # After every command ksbuild writes itself, before the disks.
    assert lines.index("reboot") < lines.index("eula --agreed") < lines.index("# Storage")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("'%post'", "is a section header, %end or %include"),
        ("'%include /tmp/part-include'", "is a section header, %end or %include"),
        ("'# a comment'", "a comment is not a command"),
        ("\"auth 'unbalanced\"", "unbalanced quote"),
        ("Eula", "must start with a kickstart command name"),
        ("''", "an empty line is not a kickstart command"),
    ],
)
def test_what_is_not_one_command_is_refused(tmp_path: Path, line: str, message: str) -> None:
    write(tmp_path / "host.yaml", EXTRA + f"    - {line}\n")
    (error,) = schema_errors(tmp_path, (tmp_path / "host.yaml").read_text())
    assert error.startswith(at(tmp_path, 17, "kickstart.extra_commands[0]"))
    assert message in error


def test_a_newline_cannot_start_a_second_command(tmp_path: Path) -> None:
    (error,) = schema_errors(tmp_path, EXTRA + '    - "eula --agreed\\n%post"\n')
    assert "single line" in error


def test_commands_the_profile_writes_point_at_their_key(tmp_path: Path) -> None:
    result = build(_profile(tmp_path, "lang de_DE.UTF-8", "selinux --permissive", "eula --agreed"), shell=False)
    semantic = [f.format() for f in result.errors if f.check == "semantic"]
    assert semantic == [
        at(tmp_path, 17, "kickstart.extra_commands[0]") + "ksbuild writes `lang` from system.lang; a second `lang` "
        "line would replace it. Set system.lang instead",
        at(tmp_path, 18, "kickstart.extra_commands[1]") + "ksbuild writes `selinux` from system.selinux; a second "
        "`selinux` line would replace it. Set system.selinux instead",
    ]


def test_a_repo_of_its_own_is_allowed_but_not_one_install_repos_writes(tmp_path: Path) -> None:
    text = MINIMAL.replace("install:\n", "install:\n  repos: [{name: site, baseurl: \"http://10.0.0.1/site\"}]\n")
    write(tmp_path / "host.yaml", text + """\
kickstart:
  extra_commands:
    - "repo --name=epel --mirrorlist=http://mirrors.example/epel7"
    - "repo --name=site --baseurl=http://10.0.0.1/other"
""")
    result = build(tmp_path / "host.yaml", shell=False)
    errors = [f.format() for f in result.errors]
    assert errors[0] == at(tmp_path, 19, "kickstart.extra_commands[1]") + "`repo` site: that repo is in " \
        "install.repos, which writes its own `repo` line; set it there"
    # pykickstart says it too, at the same key; the mirrorlist repo is fine.
    assert errors[1].startswith(at(tmp_path, 19, "kickstart.extra_commands[1]") + "KS102 error: A repo with the "
                                "name site has already been defined")
    assert len(errors) == 2


def test_users_of_their_own_are_allowed_but_not_twice(tmp_path: Path) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJKRlvWlBd+E7sdUk7c4dBj45bbU3trTAODPEOtpGFFv ops@lab"
    result = build(_profile(tmp_path, "'user --name=ops --uid=2000 --lock'", f"'sshkey --username=ops \"{key}\"'",
                            f"'sshkey --username=root \"{key}\"'"), shell=False)
    assert [f.format() for f in result.errors] == [
        at(tmp_path, 19, "kickstart.extra_commands[2]") + "`sshkey` for root: that user is in users:, which writes "
        "its own `sshkey` line; set it there",
    ]


def test_plaintext_secrets_are_refused_without_repeating_them(tmp_path: Path) -> None:
    result = build(_profile(tmp_path, "'sshpw --username=rescue sw0rdfish --plaintext'",
                            "'user --name=ops --password=sw0rdfish'"), shell=False)
    errors = [f.format() for f in result.errors]
    assert all("sw0rdfish" not in error for error in errors)
    assert at(tmp_path, 17, "kickstart.extra_commands[0]") + "holds a plaintext password" in "\n".join(errors)
    assert any(e.startswith(at(tmp_path, 18, "kickstart.extra_commands[1]") + "KS302") for e in errors)


def test_pykickstart_refusals_point_at_the_line(tmp_path: Path) -> None:
    result = build(_profile(tmp_path, "frobnicate --now", "'eula --agreed --bogus'"), shell=False)
    errors = [f.format() for f in result.errors]
    assert errors[0].startswith(at(tmp_path, 17, "kickstart.extra_commands[0]") + "KS101 error: Unknown command: "
                                "frobnicate")
    assert errors[1].startswith(at(tmp_path, 18, "kickstart.extra_commands[1]") + "KS101 error: ")
    assert len(errors) == 2


def test_sshpw_without_iscrypted_is_a_plaintext_password(tmp_path: Path) -> None:
    # sshpw's argument is the password itself: without --iscrypted it is plaintext, --plaintext or not.
    result = build(_profile(tmp_path, "'sshpw --username=rescue sw0rdfish'",
                            f"'sshpw --username=installer --iscrypted {ROOT_HASH}'"), shell=False)
    errors = [f.format() for f in result.errors]
    assert errors == [at(tmp_path, 17, "kickstart.extra_commands[0]") + "holds a plaintext password or passphrase; "
                      "a profile holds hashes only (`openssl passwd -6` makes one)"]


def test_a_plaintext_sshpw_given_with_set_is_refused_and_never_repeated() -> None:
    run = run_cli("validate", "--set", 'kickstart.extra_commands=["sshpw --username=installer sw0rdfish"]',
                  "kvm-hypervisor", cwd=REPO)
    assert run.returncode != 0
    assert "kickstart.extra_commands[0]: " in run.stdout + run.stderr
    assert "holds a plaintext password" in run.stdout + run.stderr
    assert "sw0rdfish" not in run.stdout + run.stderr

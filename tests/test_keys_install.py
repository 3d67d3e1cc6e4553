"""Where the installer takes the system from (url, cdrom, liveimg) and the repos (cost, proxy with a password read at
render time, include/exclude filters, ids with capitals, no .repo file, file:// keys): the exact lines, pykickstart
reading them back, the .repo files as the %post sandbox leaves them, and the refusals at file:line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from builder.errors import BadInput
from builder.pipeline import BuildResult, build
from builder.validate.kickstart import parse_kickstart
from tests.helpers import MINIMAL, at, run_cli, schema_errors, write
from tests.sandbox import console, make_root, run_post_scripts

# MINIMAL is 14 lines: keys added below start on line 15.
CHECKSUM = "03825f567f17705100de3308a20354b4d81ac9d8bed4bb4692b2381045e56197"


def built(tmp_path: Path, text: str, name: str = "host.yaml") -> BuildResult:
    return build(write(tmp_path / name, text), shell=False)


def lines_starting(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if line.split(" ", 1)[0] == word]


LIVEIMG = MINIMAL.replace(
    '  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n',
    "  source:\n"
    "    liveimg:\n"
    "      url: http://192.168.80.1/rhvh/rhvh-4.3.squashfs.img\n"
    f"      checksum: {CHECKSUM.upper()}\n"
    "      proxy: http://proxy.lab.local:3128\n",
)


def test_liveimg_renders_its_line_and_no_packages(tmp_path: Path) -> None:
    result = built(tmp_path, LIVEIMG)
    assert [f.format() for f in result.findings] == []
    text = result.kickstart.text
    assert lines_starting(text, "liveimg") == [
        f"liveimg --url=http://192.168.80.1/rhvh/rhvh-4.3.squashfs.img --checksum={CHECKSUM} "
        "--proxy=http://proxy.lab.local:3128"
    ]
    assert lines_starting(text, "url") == lines_starting(text, "cdrom") == []
    assert "%packages" not in text
    handler = parse_kickstart(text, "ks.cfg").handler
    assert (handler.liveimg.url, handler.liveimg.checksum) == ("http://192.168.80.1/rhvh/rhvh-4.3.squashfs.img",
                                                                CHECKSUM)
    assert handler.liveimg.proxy == "http://proxy.lab.local:3128"


def test_packages_with_liveimg_are_an_error_with_the_reason(tmp_path: Path) -> None:
    text = LIVEIMG + "packages: {install: [qemu-kvm]}\n"
    result = built(tmp_path, text)
    assert [f.format() for f in result.errors] == [
        at(tmp_path, 19, "packages.install") + "liveimg installs the image as it is and no packages (anaconda's "
        "image payload ignores %packages): install them in the image, or from a %post with yum"
    ]


def test_repos_with_liveimg_keep_their_file_but_no_repo_line(tmp_path: Path) -> None:
    text = LIVEIMG.replace("      proxy: http://proxy.lab.local:3128\n",
                           "  repos: [{name: updates, baseurl: 'http://192.168.80.1/updates', gpgcheck: false}]\n")
    result = built(tmp_path, text)
    assert [(f.key, f.severity) for f in result.findings] == [("install.repos[0].install", "warning")]
    assert lines_starting(result.kickstart.text, "repo") == []
    assert "cat > /etc/yum.repos.d/updates.repo" in result.kickstart.text


def test_a_child_choosing_cdrom_is_told_where_url_comes_from(tmp_path: Path) -> None:
    base = write(tmp_path / "base.yaml", MINIMAL)
    child = write(tmp_path / "child.yaml", "extends: base\ninstall:\n  source: {cdrom: true}\n")
    result = build(child, shell=False)
    assert [f.format() for f in result.errors] == [
        f"{child}:3: install.source.cdrom: cdrom and url are both install sources; anaconda uses one. url comes "
        f"from {base}:2 (a base profile); `url: null` under install.source removes it"
    ]
    fixed = write(tmp_path / "fixed.yaml", "extends: base\ninstall:\n  source: {cdrom: true, url: null}\n")
    result = build(fixed, shell=False)
    assert result.ok and lines_starting(result.kickstart.text, "cdrom") == ["cdrom"]


def test_no_install_source_at_all(tmp_path: Path) -> None:
    result = built(tmp_path, MINIMAL.replace('  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n',
                                             "  source: {}\n"))
    assert [f.format() for f in result.errors] == [
        at(tmp_path, 2, "install.source") + "no install source: give url:, cdrom: true or liveimg: {url: ...}"
    ]


REPOS = MINIMAL.replace('  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n', """\
  source: {url: "http://192.168.80.1/centos7/os/x86_64"}
  repos:
    - name: EPEL-7
      baseurl: http://192.168.80.1/epel/7
      gpgkey: file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-7
      cost: 500
      proxy: http://proxy.lab.local:3128
      proxy_username: yum
      proxy_password_env: KSBUILD_TEST_PROXY
      includepkgs: ["*NetworkManager*", "libvirt*"]
      excludepkgs: [kernel*]
    - {name: Local.Media, baseurl: "http://192.168.80.1/media", gpgcheck: false, file: false}
    - {name: later, baseurl: "http://192.168.80.1/later", gpgcheck: false, install: false, enabled: false}
""")
# Quotes, a comment sign and command substitutions: all must arrive as written, and run nothing.
PASSWORD = "s3cr#t!'\"$(id>p1)`id>p2`"


@pytest.fixture
def proxy_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KSBUILD_TEST_PROXY", PASSWORD)
    return PASSWORD


def test_repo_lines(tmp_path: Path, proxy_password: str) -> None:
    result = built(tmp_path, REPOS)
    assert [f.format() for f in result.findings] == []
    assert lines_starting(result.kickstart.text, "repo") == [
        "repo --name=EPEL-7 --baseurl=http://192.168.80.1/epel/7 --cost=500 "
        "--proxy='http://yum:s3cr#t!'\"'\"'\"$(id>p1)`id>p2`@proxy.lab.local:3128' "
        "--includepkgs='*NetworkManager*,libvirt*' --excludepkgs='kernel*'",
        "repo --name=Local.Media --baseurl=http://192.168.80.1/media",
    ]
    repos = {r.name: r for r in parse_kickstart(result.kickstart.text, "ks.cfg").handler.repo.repoList}
    epel = repos["EPEL-7"]
    assert (epel.cost, epel.includepkgs, epel.excludepkgs) == (500, ["*NetworkManager*", "libvirt*"], ["kernel*"])
    assert epel.proxy == f"http://yum:{PASSWORD}@proxy.lab.local:3128"


def test_repo_files_as_the_post_leaves_them(tmp_path: Path, proxy_password: str) -> None:
    result = built(tmp_path, REPOS)
    parsed = parse_kickstart(result.kickstart.text, "ks.cfg")
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    with console(root):
        runs = run_post_scripts(root, parsed.scripts)
    assert [r.returncode for r in runs] == [0] * len(runs)
    epel = root / "etc/yum.repos.d/EPEL-7.repo"
    assert epel.read_text() == (
        "[EPEL-7]\nname=EPEL-7\nbaseurl=http://192.168.80.1/epel/7\nenabled=1\ngpgcheck=1\n"
        "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-7\ncost=500\nproxy=http://proxy.lab.local:3128\n"
        f"proxy_username=yum\nproxy_password={PASSWORD}\nincludepkgs=*NetworkManager* libvirt*\nexclude=kernel*\n"
    )
    assert stat.S_IMODE(epel.stat().st_mode) == 0o600  # it holds a password
    later = root / "etc/yum.repos.d/later.repo"
    assert later.read_text() == "[later]\nname=later\nbaseurl=http://192.168.80.1/later\nenabled=0\ngpgcheck=0\n"
    assert stat.S_IMODE(later.stat().st_mode) == 0o644
    assert not (root / "etc/yum.repos.d/Local.Media.repo").exists()  # file: false
    assert not list(root.rglob("p1")) and not list(root.rglob("p2"))


def test_the_proxy_password_stays_out_of_the_manifest_and_messages(tmp_path: Path) -> None:
    write(tmp_path / "profiles/host.yaml", REPOS)
    ok = run_cli("render", "profiles/host.yaml", "-o", "out", cwd=tmp_path,
                 env={"KSBUILD_TEST_PROXY": "pw-in-env-only"})
    assert ok.returncode == 0, ok.stderr
    assert "pw-in-env-only" in (tmp_path / "out/ks.cfg").read_text()
    assert stat.S_IMODE((tmp_path / "out/ks.cfg").stat().st_mode) == 0o600
    for path in tmp_path.joinpath("out").iterdir():
        if path.name != "ks.cfg":
            assert "pw-in-env-only" not in path.read_text(), path
    assert "pw-in-env-only" not in ok.stdout + ok.stderr
    json.loads((tmp_path / "out/manifest.json").read_text())
    missing = run_cli("render", "profiles/host.yaml", "-o", "out2", cwd=tmp_path, env={})
    assert missing.returncode == 2
    assert ("profiles/host.yaml:10: install.repos[0].proxy_password_env: environment variable KSBUILD_TEST_PROXY "
            "is not set") in missing.stderr
    assert not (tmp_path / "out2").exists()


def test_proxy_credentials_in_the_url_are_refused_without_repeating_them(tmp_path: Path) -> None:
    text = REPOS.replace("proxy: http://proxy.lab.local:3128", "proxy: http://yum:Hunter2@proxy.lab.local:3128")
    (error,) = schema_errors(tmp_path, text)
    assert error.startswith(at(tmp_path, 8, "install.repos[0].proxy"))
    assert "plaintext secret" in error and "proxy_password_env" in error
    assert "Hunter2" not in error


@pytest.mark.parametrize("password", ["a@b", "a:b", "a/b", "a b", "line\nbreak", ""])
def test_proxy_passwords_anacondas_parser_cannot_take_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    monkeypatch.setenv("KSBUILD_TEST_PROXY", password)
    with pytest.raises(BadInput) as caught:
        built(tmp_path, REPOS)
    (finding,) = caught.value.findings
    assert finding.format().startswith(at(tmp_path, 10, "install.repos[0].proxy_password_env"))
    if password:
        assert password not in finding.format()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("name", "'a b'", "a repo id"),
    ("name", "'-x'", "a repo id"),
    ("name", "'x/y'", "a repo id"),
    ("cost", "-1", "greater than or equal to 0"),
    ("includepkgs[0]", "['a,b']", "at position 2 is refused"),
    ("gpgkey", "'file://relative/key'", "file:/// URL"),
    ("gpgkey", "\"file:///etc/key';touch /pwned'\"", "file:/// URL"),
    ("proxy", "'http://proxy.lab/x'", "a proxy URL"),
])
def test_repo_values_that_could_break_out_are_refused(tmp_path: Path, key: str, value: str, message: str) -> None:
    fields = {"name": "r", "baseurl": "'http://192.168.80.1/r'", key.split("[", maxsplit=1)[0]: value}
    entry = ", ".join(f"{k}: {v}" for k, v in fields.items())
    text = MINIMAL.replace('  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n',
                           '  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n  repos:\n'
                           f"    - {{{entry}}}\n")
    errors = schema_errors(tmp_path, text)
    assert any(e.startswith(at(tmp_path, 4, f"install.repos[0].{key}")) and message in e for e in errors), errors


def test_a_repo_with_neither_a_repo_line_nor_a_file(tmp_path: Path) -> None:
    text = MINIMAL.replace('  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n',
                           '  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n  repos:\n'
                           "    - {name: r, baseurl: 'http://192.168.80.1/r', install: false, file: false}\n")
    (error,) = schema_errors(tmp_path, text)
    assert error.startswith(at(tmp_path, 4, "install.repos[0]")) and "leave nothing of this repo" in error


@pytest.mark.parametrize(("key", "value", "message"), [
    ("url", "\"http://x/img';touch /pwned'\"", "may not contain spaces, quotes"),
    ("url", "'http://x/img --noverifyssl'", "may not contain spaces, quotes"),
    ("url", "'/srv/img.squashfs'", "is not a URL"),
    ("checksum", "abc", "a SHA-256 checksum"),
    ("checksum", f"'{CHECKSUM} --noverifyssl'", "a SHA-256 checksum"),
    ("proxy", "'http://u:p@proxy:3128'", "plaintext secret"),
    ("noverifyssl", "'yes'", "valid boolean"),
])
def test_liveimg_values_that_could_break_out_are_refused(tmp_path: Path, key: str, value: str, message: str) -> None:
    fields = {"url": "http://192.168.80.1/rhvh.img", key: value}
    entry = ", ".join(f"{k}: {v}" for k, v in fields.items())
    text = MINIMAL.replace('  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n',
                           f"  source: {{liveimg: {{{entry}}}}}\n")
    errors = schema_errors(tmp_path, text)
    assert any(e.startswith(at(tmp_path, 2, f"install.source.liveimg.{key}")) and message in e for e in errors), errors

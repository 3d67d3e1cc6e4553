"""Single decisions of `ksbuild import`, each on a small kickstart: what becomes a key, and what must stay in the
script because something kept there could depend on it."""

from __future__ import annotations

import pytest

from builder.errors import BadInput
from builder.importer import Imported, import_kickstart
from tests.helpers import ROOT_HASH

HEAD = f"""\
text
url --url=http://10.0.0.1/centos/7/os/x86_64
timezone UTC --utc
rootpw --iscrypted {ROOT_HASH}
ignoredisk --only-use=sda
clearpart --all --initlabel
zerombr
bootloader --location=mbr --boot-drive=sda
autopart --type=lvm
reboot
"""


def imported(tail: str, head: str = HEAD) -> Imported:
    return import_kickstart(head + tail, "host.ks")


def kept(result: Imported) -> list[str]:
    """The bodies of the scripts the profile keeps."""
    return [entry["body"] for entry in result.data.get("scripts", {}).get("post", [])]


def test_lines_appended_to_the_file_anaconda_wrote_for_a_network_line() -> None:
    result = imported("""\
%post
echo "MTU=9000" >> /etc/sysconfig/network-scripts/ifcfg-eth0
echo 'ETHTOOL_OPTS="-K eth0 gro off"' >> /etc/sysconfig/network-scripts/ifcfg-eth0
%end
""", HEAD + "network --device=eth0 --bootproto=static --ip=10.0.0.5 --netmask=255.255.255.0 --gateway=10.0.0.1 "
        "--noipv6\n")
    assert result.data["network"]["interfaces"] == [{
        "name": "eth0", "ipv4": {"address": "10.0.0.5/24", "gateway": "10.0.0.1"}, "mtu": 9000,
        "extra_ifcfg": {"ETHTOOL_OPTS": "-K eth0 gro off"},
    }]
    assert kept(result) == []


def test_the_installer_address_on_a_nic_that_post_makes_a_bridge_port_is_the_bridges() -> None:
    # The lab guide written by hand: the installer's static address on the NIC, then %post moves the host onto
    # br0 and appends BRIDGE= to the NIC's file. initscripts never applies a port's own address, so the profile
    # has the address on the bridge only, and the NIC's file is reported as not carried, not as a conflict.
    result = imported("""\
%post
cat > /etc/sysconfig/network-scripts/ifcfg-br0 <<EOF
DEVICE=br0
TYPE=Bridge
BOOTPROTO=none
IPADDR=10.0.0.5
NETMASK=255.255.255.0
GATEWAY=10.0.0.1
ONBOOT=yes
STP=no
EOF
echo "BRIDGE=br0" >> /etc/sysconfig/network-scripts/ifcfg-eth0
%end
""", HEAD + "network --device=eth0 --bootproto=static --ip=10.0.0.5 --netmask=255.255.255.0 --gateway=10.0.0.1 "
        "--noipv6\n")
    network = result.data["network"]
    assert network["interfaces"] == [{"name": "eth0", "bridge": "br0"}]
    assert network["bridges"][0]["ipv4"] == {"address": "10.0.0.5/24", "gateway": "10.0.0.1"}
    (dropped,) = result.report.of("dropped")
    assert dropped.text == "the address in ifcfg-eth0"
    assert "never applies a bridge port's own address" in dropped.reason
    assert kept(result) == []


def test_an_append_to_a_file_nothing_wrote_stays_in_the_script() -> None:
    result = imported("%post\necho MTU=9000 >> /etc/sysconfig/network-scripts/ifcfg-eth9\n%end\n")
    assert "network" not in result.data
    assert kept(result) == ["echo MTU=9000 >> /etc/sysconfig/network-scripts/ifcfg-eth9\n"]


def test_a_loop_that_writes_ifcfg_files_keeps_every_ifcfg_write_with_it() -> None:
    body = """\
cd /etc/sysconfig/network-scripts
cat > ifcfg-br0 <<'EOF'
DEVICE=br0
TYPE=Bridge
STP=no
EOF
for nic in em1 em2; do
    printf 'DEVICE=%s\\nBRIDGE=br0\\n' "$nic" > "ifcfg-$nic"
done
"""
    result = imported(f"%post\n{body}%end\n")
    assert "network" not in result.data
    assert kept(result) == [body]


def test_a_kept_sed_on_a_file_keeps_the_write_of_that_file() -> None:
    body = """\
cat > /etc/sysconfig/network-scripts/ifcfg-br0 <<'EOF'
DEVICE=br0
TYPE=Bridge
EOF
sed -i "s/^STP=.*/STP=$stp/" /etc/sysconfig/network-scripts/ifcfg-br0
"""
    assert kept(imported(f"%post\n{body}%end\n")) == [body]


def test_selinux_edit_that_contradicts_the_command_stays() -> None:
    body = "sed -i 's/^SELINUX=.*/SELINUX=permissive/' /etc/selinux/config\n"
    result = imported(f"%post\n{body}%end\n", HEAD + "selinux --disabled\n")
    assert result.data["system"]["selinux"] == "disabled"
    assert kept(result) == [body]


@pytest.mark.parametrize(("edit", "selinux"), [
    ("sed -r -i 's/^SELINUX=(enforcing|permissive)/SELINUX=disabled/' /etc/selinux/config", "disabled"),
    ("sed -E -i 's/^SELINUX=(enforcing|permissive)$/SELINUX=disabled/' /etc/selinux/config", "disabled"),
    ("sed -i 's/^SELINUX=[[:alpha:]]*/SELINUX=permissive/' /etc/selinux/config", "permissive"),
])
def test_selinux_edits_with_extended_regexes_and_classes(edit: str, selinux: str) -> None:
    result = imported(f"%post\n{edit}\n%end\n")
    assert result.data["system"]["selinux"] == selinux
    assert kept(result) == []


@pytest.mark.parametrize("edit", [
    "sed -i 's/enforcing/disabled/2' /etc/selinux/config",  # the second match only: not the first
    "sed -i 's/^SELINUX=.*/\\U&/' /etc/selinux/config",      # GNU's case conversion
    "sed -i '/\\(/d' /etc/selinux/config",                   # not a regex sed accepts
])
def test_a_sed_edit_the_reader_is_not_sure_of_stays_in_the_script(edit: str) -> None:
    result = imported(f"%post\n{edit}\n%end\n")
    assert "selinux" not in result.data.get("system", {})
    assert kept(result) == [edit + "\n"]


def test_a_service_the_command_enables_and_post_disables_stays_disabled_by_the_script() -> None:
    result = imported("%post\nsystemctl disable chronyd\nsystemctl mask firewalld\nsystemctl enable libvirtd\n%end\n",
                      HEAD + "services --enabled=chronyd\n")
    assert result.data["system"]["services"] == {"enabled": ["chronyd", "libvirtd"]}
    assert kept(result) == ["systemctl disable chronyd\nsystemctl mask firewalld\n"]


def test_a_user_with_options_without_keys_is_kept_whole_with_its_key() -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJKRlvWlBd+E7sdUk7c4dBj45bbU3trTAODPEOtpGFFv ops@lab"
    result = imported(f'user --name=svc --uid=990 --lock\nsshkey --username=svc "{key}"\n')
    assert result.data["kickstart"]["extra_commands"] == ["user --name=svc --uid=990 --lock",
                                                          f'sshkey --username=svc "{key}"']


def test_a_repeated_setting_is_not_carried_with_the_line_that_wins() -> None:
    result = imported("selinux --enforcing\nselinux --permissive\n")
    assert result.data["system"]["selinux"] == "permissive"
    (entry,) = result.report.of("dropped")
    assert (entry.span.first, entry.reason) == (11, "`selinux` is given again at host.ks:12; anaconda uses the last")


@pytest.mark.parametrize(
    ("line", "key", "fix"),
    [
        ("sshpw --username=rescue t0psecret --plaintext", "kickstart.extra_commands", "openssl passwd -6"),
        ("sshpw --username=rescue t0psecret", "kickstart.extra_commands", "openssl passwd -6"),
        ("user --name=ops --password=t0psecret", "users.accounts", "openssl passwd -6"),
        ("bootloader --location=mbr --password=t0psecret", "storage.bootloader.password_hash",
         "grub2-mkpasswd-pbkdf2"),
    ],
)
def test_plaintext_secrets_are_refused_with_the_fix_and_not_repeated(line: str, key: str, fix: str) -> None:
    with pytest.raises(BadInput) as caught:
        imported(line + "\n")
    (finding,) = caught.value.findings
    assert finding.key == key and fix in finding.message
    assert "t0psecret" not in finding.format()


def test_a_luks_passphrase_is_read_at_render_time_instead() -> None:
    head = HEAD.replace("autopart --type=lvm\n", "")
    result = imported("part /boot --size=1024 --ondisk=sda\n"
                      "part / --fstype=xfs --size=10240 --ondisk=sda --encrypted --passphrase=t0psecret\n", head)
    partition = result.data["storage"]["partitions"][1]
    assert partition["encrypted"] is True and partition["passphrase_env"] == "KSBUILD_LUKS_PASSPHRASE"
    assert "t0psecret" not in repr(result.data) + "\n".join(result.report.format())


def test_windows_line_ends_are_read_as_lines() -> None:
    text = (HEAD + "%post\necho done > /etc/motd\n%end\n").replace("\n", "\r\n")
    result = import_kickstart(text, "host.ks")
    assert kept(result) == ["echo done > /etc/motd\n"]
    assert [note.text for note in result.report.notes] == ["CRLF", "hostname"]


def test_past_the_statement_budget_a_script_is_kept_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    from builder.importer import scripts

    body = "systemctl enable libvirtd\nsystemctl enable ksm\nsystemctl enable ksmtuned\nsystemctl enable tuned\n"
    monkeypatch.setattr(scripts, "MAX_STATEMENTS", 3)
    result = imported(f"%post\n{body}%end\n")
    assert kept(result) == [body]
    assert "more than 3 statements" in result.report.notes[0].reason
    monkeypatch.setattr(scripts, "MAX_STATEMENTS", 4)
    assert kept(imported(f"%post\n{body}%end\n")) == []


NETWORK_ETH0 = "network --device=eth0 --bootproto=static --ip=10.0.0.5 --netmask=255.255.255.0 --gateway=10.0.0.1\n"


# str.isdigit() is true for each of these, and int() refuses the first: each is read as any other non-number is.
@pytest.mark.parametrize("digits", ["9²00", "٩٠٠٠", "９０００"])
def test_an_mtu_of_other_digits_than_0_to_9_is_not_a_number(digits: str) -> None:
    """Not a number, so no `mtu:`: the write stays in the script as written, and the installer's line for that
    device (which the profile then does not have) is reported as not carried."""
    statement = f"echo 'MTU={digits}' >> /etc/sysconfig/network-scripts/ifcfg-eth0\n"
    result = imported(f"%post\n{statement}%end\n", HEAD + NETWORK_ETH0)
    assert "network" not in result.data
    assert [script["body"] for script in result.data["scripts"]["post"]] == [statement]
    assert [(e.span.first, e.reason) for e in result.report.of("dropped")] == [
        (11, "eth0: its ifcfg file stays written by the script (a value with no profile key), so the profile has "
             "no such device for the installer's line")]


@pytest.mark.parametrize("digits", ["2⁵⁶", "２５６"])
def test_a_kdump_reservation_of_other_digits_is_refused_at_its_line(digits: str) -> None:
    with pytest.raises(BadInput) as raised:
        imported(f"%addon com_redhat_kdump --enable --reserve-mb={digits}\n%end\n")
    assert any(finding.format().startswith("host.ks:11: addons.kdump.reserve_mb: ")
               for finding in raised.value.findings)


def test_a_quoted_hash_sign_after_an_escaped_quote_is_not_a_comment() -> None:
    # anaconda (shlex) reads the gecos as `Ops " # team`: the whole line is the command, nothing is cut.
    line = 'user --name=ops --uid=1500 --gecos="Ops \\" # team"'
    result = imported(line + "  # the on-call account\n")
    assert result.data["kickstart"]["extra_commands"] == [line]

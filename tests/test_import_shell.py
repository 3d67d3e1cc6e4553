"""The shell reader behind `ksbuild import`'s %post recognition: what it reads with certainty, and what it must
leave to the script (anything with an expansion, a pipe, a loop)."""

from __future__ import annotations

import pytest

from builder.importer.shell import Write, apply_sed, file_write, sed_edit, split_statements

BODY = """\
set -euo pipefail
cd /etc/sysconfig/network-scripts
# the bridge
cat > ifcfg-br0 <<'EOF'
DEVICE=br0
STP=yes
EOF
for nic in em1 em2; do
    sed -i 's/^ONBOOT=.*/ONBOOT=yes/' "ifcfg-$nic"
done
echo "options kvm_intel nested=1" \\
    > /etc/modprobe.d/kvm-nested.conf
systemctl enable libvirtd && echo ok
"""


def test_statements_with_their_lines_and_comments() -> None:
    statements = split_statements(BODY)
    assert [(s.first, s.last, s.compound) for s in statements] == [
        (0, 0, False), (1, 1, False), (3, 6, False), (7, 9, True), (10, 11, False), (12, 12, False),
    ]
    assert statements[2].comments == (2,)
    assert statements[2].heredoc == "DEVICE=br0\nSTP=yes\n"
    assert statements[4].command == 'echo "options kvm_intel nested=1"  > /etc/modprobe.d/kvm-nested.conf'


def test_a_heredoc_inside_a_loop_does_not_end_the_loop_early() -> None:
    body = "for f in a b; do\ncat > /tmp/$f <<END\ndone\nEND\ndone\necho after\n"
    statements = split_statements(body)
    assert [(s.first, s.last) for s in statements] == [(0, 4), (5, 5)]


@pytest.mark.parametrize(
    ("command", "cwd", "expected"),
    [
        ('echo "A=1" > /etc/x', None, Write("/etc/x", "A=1\n", False)),
        ("echo -n 'A=1' >> x", "/etc", Write("/etc/x", "A=1", True)),
        ("printf '%s\\n' 'A=1' 'B=2' > /etc/x", None, Write("/etc/x", "A=1\nB=2\n", False)),
        ("printf 'A=1\\nB=2\\n' > /etc/x", None, Write("/etc/x", "A=1\nB=2\n", False)),
        (": > /etc/x", None, Write("/etc/x", "", False)),
        # Not certain: an expansion, a relative path without a known folder, two commands, a pipe.
        ('echo "A=$B" > /etc/x', None, None),
        ("echo A=1 > x", None, None),
        ("echo A=1 > /etc/x; echo B=2 > /etc/y", None, None),
        ("echo A=1 | tee /etc/x", None, None),
        ("printf '%d\\n' 5 > /etc/x", None, None),
    ],
)
def test_literal_writes(command: str, cwd: str | None, expected: Write | None) -> None:
    (statement,) = split_statements(command + "\n")
    assert file_write(statement, cwd) == expected


def test_a_heredoc_with_an_unquoted_delimiter_is_literal_only_without_expansions() -> None:
    plain, expanded = split_statements("cat > /etc/a <<END\nA=1\nEND\ncat > /etc/b <<END\nA=$x\nEND\n")
    assert file_write(plain, None) == Write("/etc/a", "A=1\n", False)
    assert file_write(expanded, None) is None


@pytest.mark.parametrize(
    ("expressions", "text", "expected"),
    [
        (("s/^SELINUX=.*/SELINUX=disabled/",), "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
         "SELINUX=disabled\nSELINUXTYPE=targeted\n"),
        (("/nested=1/s/^#//",), "#options kvm_intel nested=1\n# other\n", "options kvm_intel nested=1\n# other\n"),
        (("s/#options/options/g",), "#options a #options\n", "options a options\n"),
        (("s|^\\(SELINUX=\\).*|\\1permissive|",), "SELINUX=enforcing\n", "SELINUX=permissive\n"),
        (("/^#/d",), "#a\nb\n", "b\n"),
        (("y/abc/xyz/",), "abc\n", None),
    ],
)
def test_sed_subset(expressions: tuple[str, ...], text: str, expected: str | None) -> None:
    assert apply_sed(expressions, text) == expected


def test_sed_in_place_only() -> None:
    (in_place,) = split_statements("sed -i --follow-symlinks 's/a/b/' /etc/sysconfig/selinux\n")
    (to_stdout,) = split_statements("sed 's/a/b/' /etc/x\n")
    edit = sed_edit(in_place, None)
    assert edit is not None and edit.paths == ("/etc/sysconfig/selinux",)
    assert sed_edit(to_stdout, None) is None


def test_sed_replacement_specials() -> None:
    assert apply_sed(("s/a/[&]/",), "a\n") == "[a]\n"
    assert apply_sed(("s/a/\\&/",), "a\n") == "&\n"

"""The shell reader behind `ksbuild import`'s %post recognition: what it reads with certainty, and what it must
leave to the script (anything with an expansion, a pipe, a loop)."""

from __future__ import annotations

import subprocess

import pytest

from builder.importer.sed import apply_sed, sed_edit
from builder.importer.shell import Write, file_write, split_statements

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


def test_a_function_body_is_one_statement_and_what_follows_is_read() -> None:
    # A function is defined, not run: its body is never read as statements of the script, and the definition
    # ends at its closing brace, wherever its opening brace is.
    for definition in ("f() {\n  echo A=1 > /etc/x\n}\n", "f()\n{\n  echo A=1 > /etc/x\n}\n",
                       "function f {\n  echo A=1 > /etc/x\n}\n", "f() { echo A=1 > /etc/x; }\n"):
        *function, after = split_statements(definition + "echo B=2 > /etc/y\n")
        assert [s.compound for s in function] == [True]
        assert file_write(after, None) == Write("/etc/y", "B=2\n", False)


# Expressions kickstarts write, run by the real GNU sed on the same text: where the reader gives a result it must
# be sed's; `None` (the statement stays in the script) is the only other answer allowed.
SED_CASES = [
    ("s/^SELINUX=(enforcing|permissive)/SELINUX=disabled/", "SELINUX=enforcing\n", True),
    ("s/^SELINUX=(enforcing|permissive)/SELINUX=disabled/", "SELINUX=enforcing\n", False),
    ("s/^SELINUX=[[:alpha:]]*/SELINUX=disabled/", "SELINUX=enforcing\nSELINUXTYPE=targeted\n", False),
    ("s/^[[:space:]]*#[[:space:]]*PermitRootLogin.*/PermitRootLogin no/", "  # PermitRootLogin yes\n", False),
    (r"s/\<on\>/off/g", "on onion on\n", False),
    (r"s/\`#//", "##x\n", False),
    ("s/a/b/2", "aaa\n", False),
    ("s/a/b/gg", "aaa\n", False),
    (r"/\(/d", "a(\nb\n", False),
    ("/(/d", "a(\nb\n", False),
    ("/(/d", "a(\nb\n", True),
    (r"s/a\\/x/", "a\\b\n", False),
    ("s/*a/x/", "*a\n", False),
    ("s/a^b$c/x/", "a^b$c\n", False),
    (r"s/a\{2\}/x/", "aaa\n", False),
    ("s/a{2}/x/", "aaa\n", True),
    ("s/a+/X/", "aaa+\n", False),
    (r"s/a\+/X/", "aaa+\n", False),
    ("s/a*?/x/", "aaa\n", True),
    ("s/[]a-c[:digit:]]/X/g", "]b9z\n", False),
    (r"s/x/\U&/", "x\n", False),
    (r"s/\(a\)\1/X/", "aab\n", False),
    (r"s/(a)\1/X/", "aab\n", True),
    (r"s|a\|b|X|g", "a|b\n", False),
    (r"/x\/y/d", "x/y\nz\n", False),
    ("s/ENABLED/on/I", "enabled=1\n", False),
]


@pytest.mark.parametrize(("expression", "text", "extended"), SED_CASES)
def test_sed_gives_what_gnu_sed_gives_or_nothing(expression: str, text: str, extended: bool) -> None:
    result = subprocess.run(["sed", *(["-E"] if extended else []), "-e", expression], input=text,
                            capture_output=True, text=True, check=False)
    mine = apply_sed((expression,), text, extended)
    assert mine is None or (result.returncode == 0 and mine == result.stdout)


def test_sed_extended_and_posix_classes_are_read() -> None:
    # The edits a user relies on being carried into the profile, not left to the script.
    assert apply_sed(("s/^SELINUX=(enforcing|permissive)/SELINUX=disabled/",), "SELINUX=enforcing\n",
                     extended=True) == "SELINUX=disabled\n"
    assert apply_sed(("s/^SELINUX=[[:alpha:]]*$/SELINUX=permissive/",), "SELINUX=enforcing\n") == \
        "SELINUX=permissive\n"
    assert apply_sed(("s/a/b/2",), "aaa\n") is None
    assert apply_sed(("/\\(/d",), "a(\n") is None


def test_sed_r_is_extended() -> None:
    (statement,) = split_statements("sed -r -i 's/^SELINUX=(enforcing|permissive)/SELINUX=disabled/' "
                                    "/etc/selinux/config\n")
    edit = sed_edit(statement, None)
    assert edit is not None and edit.extended

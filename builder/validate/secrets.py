"""Secrets in a kickstart: plaintext passwords and passphrases, and hashes that are not what they claim to be.

A kickstart is served over HTTP/TFTP and kept as /root/anaconda-ks.cfg on the installed host, so every secret in it
must be a one-way hash, or not be there. Decisions:
- rootpw and user --password must be --iscrypted (rootpw --lock alone is fine); the value must be crypt(3)
  output as a profile requires it (builder.hashes); MD5 ($1$) and SHA-256 ($5$) are accepted with a warning.
- A LUKS --passphrase on part, raid, logvol or autopart is the disk key in plaintext: always reported.
- bootloader --password without --iscrypted is a plaintext GRUB password; with --iscrypted it must be a GRUB2 PBKDF2
  hash (grub.pbkdf2.sha512...), which is what EL7's grub2 takes.
No finding ever repeats a secret's value.
"""

from __future__ import annotations

from builder.errors import Finding, Location
from builder.hashes import CRYPT_METHODS, crypt_method, is_grub_pbkdf2
from builder.rules import rule_finding
from builder.validate.kickstart import ParsedKickstart

CHECK = "secrets"
_WEAK_CRYPT = ("1", "5")


def _crypted(value: str, what: str, location: Location | None) -> list[Finding]:
    method = crypt_method(value)
    if method is None:
        return [rule_finding(CHECK, "KS305", location,
                             f"{what} --iscrypted value is not a crypt(3) hash ($6$salt$hash): nobody could log in")]
    if method in _WEAK_CRYPT:
        return [rule_finding(CHECK, "KS306", location, f"{what} hash is {CRYPT_METHODS[method]}; use SHA-512 ($6$)")]
    return []


def check_secrets(parsed: ParsedKickstart) -> list[Finding]:
    """Every secret problem of a parsed kickstart, at the line of the command that holds the secret."""
    findings: list[Finding] = []
    for command in parsed.lines("rootpw"):
        data = command.data
        if not data.password:
            continue
        if not data.isCrypted:
            findings.append(rule_finding(CHECK, "KS301", command.location, "rootpw is in plaintext: give a crypted "
                                         "hash with --iscrypted (no plaintext passwords)"))
        else:
            findings += _crypted(data.password, "rootpw", command.location)
    for command in parsed.lines("user"):
        user = command.data
        if not user.password:
            continue
        if not user.isCrypted:
            findings.append(rule_finding(CHECK, "KS302", command.location, f"user {user.name}: --password is in "
                                         "plaintext: use --iscrypted with a crypted hash"))
        else:
            findings += _crypted(user.password, f"user {user.name}", command.location)
    for command in parsed.lines("part", "partition", "raid", "logvol", "autopart"):
        data = command.data
        if getattr(data, "passphrase", ""):
            findings.append(rule_finding(CHECK, "KS303", command.location,
                                         f"{command.name} --passphrase puts the LUKS key in plaintext in the "
                                         "kickstart; leave it out (anaconda asks) or escrow it (--escrowcert)"))
    for command in parsed.lines("bootloader"):
        data = command.data
        if not data.password:
            continue
        if not data.isCrypted:
            looks_hashed = data.password.startswith(("$", "grub.pbkdf2"))
            hint = " (this value looks like a hash, which GRUB would take literally as the password)" \
                if looks_hashed else ""
            findings.append(rule_finding(CHECK, "KS304", command.location,
                                         "bootloader --password without --iscrypted is a plaintext GRUB "
                                         f"password{hint}; use --iscrypted with a grub2-mkpasswd-pbkdf2 hash"))
        elif not is_grub_pbkdf2(data.password):
            findings.append(rule_finding(CHECK, "KS305", command.location,
                                         "bootloader --iscrypted --password is not a GRUB2 PBKDF2 hash "
                                         "(grub.pbkdf2.sha512...): GRUB would accept no password"))
    return findings

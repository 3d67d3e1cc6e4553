"""What a password hash ksbuild accepts looks like: one definition for the profile model (builder.model.types) and
the kickstart linter (builder.validate.secrets), so a hash one refuses the other does not pass. No pydantic here:
the linter imports it.

Facts used: EL7's crypt(3) knows MD5 ($1$), SHA-256 ($5$) and SHA-512 ($6$), with an optional rounds=, a salt of
up to 16 characters and a hash of fixed length per method; EL7's GRUB 2 takes grub2-mkpasswd-pbkdf2 output,
grub.pbkdf2.sha512.<iterations>.<salt hex>.<hash hex>.
"""

from __future__ import annotations

import re

CRYPT_HASH = re.compile(
    r"\$(?P<method>1|5|6)\$(rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$(?P<hash>[./A-Za-z0-9]{22,86})"
)
CRYPT_HASH_LENGTH = {"1": 22, "5": 43, "6": 86}
CRYPT_METHODS = {"1": "MD5", "5": "SHA-256", "6": "SHA-512"}
GRUB_PBKDF2 = re.compile(r"grub\.pbkdf2\.sha512\.[0-9]{1,9}\.[0-9A-Fa-f]{16,1024}\.[0-9A-Fa-f]{64,1024}")


def crypt_method(value: str) -> str | None:
    """The crypt(3) method id ("1", "5" or "6") of a well-formed hash; None when `value` is not one."""
    match = CRYPT_HASH.fullmatch(value)
    if match is None or len(match["hash"]) != CRYPT_HASH_LENGTH[match["method"]]:
        return None
    return match["method"]


def is_grub_pbkdf2(value: str) -> bool:
    """Whether `value` is a GRUB 2 PBKDF2 hash as grub2-mkpasswd-pbkdf2 prints it."""
    return GRUB_PBKDF2.fullmatch(value) is not None

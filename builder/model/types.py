"""Constrained value types shared by the profile model.

Every string that reaches a kickstart line or a shell script is single-line and free of control characters
here, at the schema level; what may still be dangerous (quotes, `$`) is quoted by the renderer.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from ipaddress import IPv4Address, IPv4Interface
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ConfigDict, StrictBool, StrictInt, StrictStr
from pydantic import BaseModel as _PydanticBase

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Model(_PydanticBase):
    """Base of every profile model: unknown keys are errors, values are immutable after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, validate_default=True)


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be a single line without control characters (newline, tab, NUL)")
    return value


def matching(regex: str, what: str) -> AfterValidator:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


Line = Annotated[StrictStr, AfterValidator(_single_line)]
Bool = StrictBool
Int = StrictInt

# Linux limits interface names to IFNAMSIZ-1 = 15 bytes; '/' and whitespace are never allowed.
InterfaceName = Annotated[
    Line,
    matching(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}", "a Linux interface name (1-15 letters, digits, _ . : -)"),
]
Identifier = Annotated[Line, matching(r"[a-z0-9][a-z0-9_-]{0,62}", "a name of lowercase letters, digits, _ and -")]
UserName = Annotated[Line, matching(r"[a-z_][a-z0-9_-]{0,31}", "a valid user or group name")]
ServiceName = Annotated[
    Line,
    matching(r"[A-Za-z0-9_][A-Za-z0-9@_.:\\-]{0,127}", "a systemd unit name (letters, digits, @ _ . : -)"),
]
PackageName = Annotated[
    Line,
    matching(r"[A-Za-z0-9_+][A-Za-z0-9_.+*?:\[\]-]{0,127}", "a package name or glob (letters, digits, _ . + - * ?)"),
]
GroupName = Annotated[Line, matching(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}", "a package group id such as core")]
Lang = Annotated[
    Line, matching(r"[a-z]{2,3}(_[A-Z]{2})?(\.[A-Za-z0-9-]+)?(@[A-Za-z0-9]+)?", "a locale such as en_US.UTF-8")
]
KeyboardLayout = Annotated[Line, matching(r"[A-Za-z0-9_-]{1,64}", "a keyboard layout such as us")]
AbsolutePath = Annotated[Line, matching(r"/[A-Za-z0-9/._+-]*", "an absolute path of plain characters")]
FirewallPort = Annotated[
    Line, matching(r"\d{1,5}(-\d{1,5})?/(tcp|udp|sctp|dccp)", "a port such as 16509/tcp or 5900-5999/tcp")
]
MacAddress = Annotated[
    Line,
    BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
    matching(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", "a MAC address such as 52:54:00:12:34:56"),
]


def _hostname(value: str) -> str:
    labels = value.rstrip(".").split(".")
    label = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
    if len(value) > 253 or not all(label.fullmatch(part) for part in labels):
        raise ValueError(
            f"{value!r} is not an RFC 1123 host name (labels of 1-63 letters, digits and inner hyphens, 253 at most)"
        )
    return value


HostName = Annotated[Line, AfterValidator(_hostname)]


def _timezone(value: str) -> str:
    if value not in _timezones():
        raise ValueError(f"{value!r} is not a known time zone such as Asia/Shanghai or UTC")
    return value


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


TimeZone = Annotated[Line, AfterValidator(_timezone)]

_URL_SCHEMES = ("http", "https", "ftp", "nfs")


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in _URL_SCHEMES or not parts.netloc:
        raise ValueError(f"{value!r} is not a URL with scheme {', '.join(_URL_SCHEMES)} and a host")
    if re.search(r"[\s\"'`$\\]", value):
        raise ValueError(f"{value!r}: a URL may not contain spaces, quotes, backslashes, backticks or $")
    return value


Url = Annotated[Line, AfterValidator(_url)]


def _ipv4_address(value: object) -> object:
    if isinstance(value, str):
        try:
            return IPv4Address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address") from None
    return value


def _ipv4_interface(value: object) -> object:
    if isinstance(value, str):
        if "/" not in value:
            raise ValueError(f"{value!r} needs a prefix length, such as 192.168.80.40/24")
        try:
            return IPv4Interface(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address with prefix length (a.b.c.d/nn)") from None
    return value


IPv4 = Annotated[IPv4Address, BeforeValidator(_ipv4_address)]
IPv4WithPrefix = Annotated[IPv4Interface, BeforeValidator(_ipv4_interface)]

# crypt(3) hashes CentOS 7 understands: MD5 ($1$), SHA-256 ($5$), SHA-512 ($6$), optional rounds=.
_CRYPT = re.compile(r"\$(1|5|6)\$(rounds=\d{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86}")
_CRYPT_LENGTH = {"1": 22, "5": 43, "6": 86}


def _crypt_hash(value: str) -> str:
    match = _CRYPT.fullmatch(value)
    if not match or len(value.rsplit("$", 1)[1]) != _CRYPT_LENGTH[match.group(1)]:
        # Never echo the value: it may be a plaintext password typed by mistake.
        raise ValueError(
            "must be a crypt hash ($6$salt$hash), not a plaintext password; make one with "
            "`openssl passwd -6` or `python3 -c 'import crypt,getpass; print(crypt.crypt(getpass.getpass()))'`"
        )
    return value


CryptHash = Annotated[StrictStr, AfterValidator(_crypt_hash)]

_SSH_KEY = re.compile(
    r"(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r" [A-Za-z0-9+/]+={0,2}( [\x20-\x7e]{0,200})?"
)


def _ssh_key(value: str) -> str:
    if not _SSH_KEY.fullmatch(value):
        raise ValueError("is not an OpenSSH public key line (type, base64 key, optional comment)")
    return value


SshPublicKey = Annotated[Line, AfterValidator(_ssh_key)]

"""Constrained value types shared by the profile model.

Every string that reaches a kickstart line or a shell script is single-line and free of control characters
here, at the schema level; what may still be dangerous (quotes, `$`) is quoted by the renderer.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from ipaddress import IPv4Address, IPv4Interface
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ConfigDict, StrictBool, StrictInt, StrictStr
from pydantic import BaseModel as _PydanticBase

from builder.errors import shown
from builder.hashes import crypt_method, is_grub_pbkdf2

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Model(_PydanticBase):
    """Base of every profile model: unknown keys are errors, values are immutable after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False, validate_default=True)


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be a single line without control characters (newline, tab, NUL)")
    return value


def matching(regex: str, what: str) -> AfterValidator:
    compiled = re.compile(regex, re.ASCII)  # \d is 0-9, not any Unicode digit

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{shown(value)} is not {what}")
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
_PACKAGE_CHARS = re.compile(r"[A-Za-z0-9_.+*?:\[\]-]")
_PACKAGE_FIRST = re.compile(r"[A-Za-z0-9_+*?\[]")


def _package_name(value: str) -> str:
    """yum matches %packages entries as globs (fnmatch), a leading * or ? included (`*NetworkManager*`). In
    %packages a leading - marks an exclusion and @ a group, so they may not start a name; the message names the
    character that is refused, and where."""
    if not 1 <= len(value) <= 128:
        raise ValueError(f"{shown(value)} is not a package name or glob (1-128 characters)")
    if value[0] == "-":
        raise ValueError(f"{shown(value)}: a leading '-' marks an exclusion in %packages; "
                         "list the name without it under packages.exclude")
    if value[0] == "@":
        raise ValueError(f"{shown(value)}: a leading '@' marks a group in %packages; list it under packages.groups")
    for index, char in enumerate(value):
        allowed = _PACKAGE_FIRST if index == 0 else _PACKAGE_CHARS
        if not allowed.fullmatch(char):
            where = "at the start" if index == 0 else f"at position {index + 1}"
            raise ValueError(f"{shown(value)}: the character {char!r} {where} is refused; a package name or glob "
                             "holds letters, digits and _ . + - * ? : [ ] (not . : ] - first)")
    return value


PackageName = Annotated[Line, AfterValidator(_package_name)]
GroupName = Annotated[Line, matching(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}", "a package group id such as core")]
Lang = Annotated[
    Line, matching(r"[a-z]{2,3}(_[A-Z]{2})?(\.[A-Za-z0-9-]+)?(@[A-Za-z0-9]+)?", "a locale such as en_US.UTF-8")
]
KeyboardLayout = Annotated[Line, matching(r"[A-Za-z0-9_-]{1,64}", "a keyboard layout such as us")]
# An X layout, optionally with its variant as anaconda and localectl write it: "de (nodeadkeys)".
XLayout = Annotated[
    Line, matching(r"[A-Za-z0-9_-]{1,64}( \([A-Za-z0-9_-]{1,64}\))?", "an X layout such as de or 'de (nodeadkeys)'")
]
XkbOption = Annotated[
    Line, matching(r"[a-z0-9_]{1,32}:[A-Za-z0-9_]{1,64}", "an XKB option such as grp:alt_shift_toggle")
]
AbsolutePath = Annotated[Line, matching(r"/[A-Za-z0-9/._+-]*", "an absolute path of plain characters")]
FirewallPort = Annotated[
    Line, matching(r"\d{1,5}(-\d{1,5})?/(tcp|udp|sctp|dccp)", "a port such as 16509/tcp or 5900-5999/tcp")
]
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def mac_address(value: str) -> str:
    """`value` in lower case, if it is a MAC address (ValueError otherwise)."""
    lowered = value.lower()
    if not _MAC.fullmatch(lowered):
        raise ValueError(f"{shown(value)} is not a MAC address such as 52:54:00:12:34:56")
    return lowered


MacAddress = Annotated[Line, AfterValidator(mac_address)]


def _hostname(value: str) -> str:
    labels = value.rstrip(".").split(".")
    label = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
    if len(value) > 253 or not all(label.fullmatch(part) for part in labels):
        raise ValueError(
            f"{shown(value)} is not an RFC 1123 host name "
            "(labels of 1-63 letters, digits and inner hyphens, 253 at most)"
        )
    return value


HostName = Annotated[Line, AfterValidator(_hostname)]


def _timezone(value: str) -> str:
    if value not in _timezones():
        raise ValueError(f"{shown(value)} is not a known time zone such as Asia/Shanghai or UTC")
    return value


@cache
def _timezones() -> frozenset[str]:
    # The tzdata package's list (what zoneinfo.available_timezones() starts from), without the host's
    # /usr/share/zoneinfo, which adds names such as `localtime` and takes a read of every file there.
    return frozenset(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())


TimeZone = Annotated[Line, AfterValidator(_timezone)]

_URL_SCHEMES = ("http", "https", "ftp", "nfs")


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in _URL_SCHEMES or not parts.netloc:
        raise ValueError(f"{shown(value)} is not a URL with scheme {', '.join(_URL_SCHEMES)} and a host")
    if re.search(r"[\s\"'`$\\]", value):
        raise ValueError(f"{shown(value)}: a URL may not contain spaces, quotes, backslashes, backticks or $")
    return value


Url = Annotated[Line, AfterValidator(_url)]


def _file_or_url(value: str) -> str:
    if value.startswith("file://"):
        if not re.fullmatch(r"file:///[A-Za-z0-9/._+-]*", value):
            raise ValueError(f"{shown(value)} is not a file:/// URL of an absolute path of plain characters")
        return value
    return _url(value)


# A URL the installed system or the installer reads, where a local file is as good as a server (gpgkey, liveimg).
UrlOrFile = Annotated[Line, AfterValidator(_file_or_url)]


def _proxy_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        # Never echo it: the part before @ may be a password.
        raise ValueError(
            "a proxy URL with credentials puts a plaintext secret in the profile; give the URL without them "
            "and set proxy_username with proxy_password_env (or proxy_password_file)"
        )
    if parts.scheme not in ("http", "https", "ftp") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{shown(value)} is not a proxy URL such as http://proxy.lab.local:3128")
    if re.search(r"[\s\"'`$\\]", value):
        raise ValueError(f"{shown(value)}: a URL may not contain spaces, quotes, backslashes, backticks or $")
    return value


ProxyUrl = Annotated[Line, AfterValidator(_proxy_url)]


def _ipv4_address(value: object) -> object:
    if isinstance(value, str):
        try:
            return IPv4Address(value)
        except ValueError:
            raise ValueError(f"{shown(value)} is not an IPv4 address") from None
    return value


def _ipv4_interface(value: object) -> object:
    if isinstance(value, str):
        if "/" not in value:
            raise ValueError(f"{shown(value)} needs a prefix length, such as 192.168.80.40/24")
        try:
            return IPv4Interface(value)
        except ValueError:
            raise ValueError(f"{shown(value)} is not an IPv4 address with prefix length (a.b.c.d/nn)") from None
    return value


IPv4 = Annotated[IPv4Address, BeforeValidator(_ipv4_address)]
IPv4WithPrefix = Annotated[IPv4Interface, BeforeValidator(_ipv4_interface)]

def _crypt_hash(value: str) -> str:
    if crypt_method(value) is None:
        # Never echo the value: it may be a plaintext password typed by mistake.
        raise ValueError(
            "must be a crypt hash ($6$salt$hash), not a plaintext password; make one with "
            "`openssl passwd -6` or `python3 -c 'import crypt,getpass; print(crypt.crypt(getpass.getpass()))'`"
        )
    return value


CryptHash = Annotated[StrictStr, AfterValidator(_crypt_hash)]


def is_crypt_hash(value: str) -> bool:
    """Whether `value` is a hash CryptHash accepts (for callers that refuse it with a message of their own)."""
    return crypt_method(value) is not None

_SSH_KEY = re.compile(
    r"(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r" [A-Za-z0-9+/]+={0,2}( [\x20-\x7e]{0,200})?"
)


def _ssh_key(value: str) -> str:
    if not _SSH_KEY.fullmatch(value):
        raise ValueError("is not an OpenSSH public key line (type, base64 key, optional comment)")
    return value


SshPublicKey = Annotated[Line, AfterValidator(_ssh_key)]


# Kernel command line arguments as anaconda appends them (bootloader --append) and GRUB writes them into
# GRUB_CMDLINE_LINUX: NAME or NAME=VALUE, no spaces or quotes, nothing GRUB's shell would expand.
_KERNEL_ARG = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})(=(?P<value>[A-Za-z0-9_.,:/=+@%~-]{1,200}))?")


def _kernel_arg(value: str) -> str:
    if not _KERNEL_ARG.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a kernel argument NAME or NAME=VALUE (name: letters, digits, _ . -; value: "
            "letters, digits and _ . , : / = + @ % ~ -), e.g. crashkernel=auto or console=ttyS0,115200n8"
        )
    return value


KernelArg = Annotated[Line, AfterValidator(_kernel_arg)]


def kernel_arg_name(arg: str) -> str:
    return arg.split("=", 1)[0]


def _grub_hash(value: str) -> str:
    if not is_grub_pbkdf2(value):
        # Never echo the value: it may be a plaintext password typed by mistake.
        raise ValueError(
            "must be a GRUB 2 PBKDF2 hash (grub.pbkdf2.sha512.10000.SALT.HASH), not a plaintext password; "
            "make one with `grub2-mkpasswd-pbkdf2` (grub-mkpasswd-pbkdf2 on Debian)"
        )
    return value


GrubPasswordHash = Annotated[StrictStr, AfterValidator(_grub_hash)]
Sha256Hex = Annotated[
    Line,
    BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
    matching(r"[0-9a-f]{64}", "a SHA-256 checksum (64 hex digits, as sha256sum prints it)"),
]
EnvName = Annotated[
    Line, matching(r"[A-Za-z_][A-Za-z0-9_]{0,127}", "an environment variable name such as KSBUILD_LUKS_PASSPHRASE")
]
# A file a secret is read from at render time: relative to the profile file that names it, or absolute.
SecretFile = Annotated[
    Line,
    matching(r"[A-Za-z0-9_./+-]{1,255}", "a file path of plain characters (relative to the profile, or absolute)"),
]

"""The profile: one frozen, typed description of a KVM hypervisor install."""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    JsonValue,
    PlainValidator,
    StrictStr,
    field_validator,
    model_validator,
)

from builder import targets
from builder.model.network import Network
from builder.model.storage import Storage
from builder.model.types import (
    AbsolutePath,
    Bool,
    CryptHash,
    EnvName,
    FirewallPort,
    GroupName,
    HostName,
    Identifier,
    Int,
    KeyboardLayout,
    Lang,
    Line,
    Model,
    PackageName,
    ProxyUrl,
    SecretFile,
    ServiceName,
    Sha256Hex,
    SshPublicKey,
    TimeZone,
    Url,
    UrlOrFile,
    UserName,
    XkbOption,
    XLayout,
    matching,
)


def _known_target(value: str) -> str:
    try:
        targets.alias(value)
    except targets.UnknownTarget as exc:
        raise ValueError(str(exc)) from None
    return value


# A target name or an alias (builder.targets): what the user typed is kept, for messages and `show`.
TargetRef = Annotated[Line, AfterValidator(_known_target)]


class LiveImage(Model):
    """A ready root file system image (RHV-H / oVirt Node squashfs, a tarball) installed instead of packages."""

    url: UrlOrFile = Field(description="The image (liveimg --url): http, https, ftp or file:///.")
    checksum: Sha256Hex | None = Field(None, description="Its SHA-256 (liveimg --checksum); anaconda checks it.")
    proxy: ProxyUrl | None = Field(None, description="HTTP proxy for the download (liveimg --proxy).")
    noverifyssl: Bool = Field(False, description="Do not check the https server's certificate (--noverifyssl).")


class InstallSource(Model):
    """Where the installer takes the system from: a URL tree, the boot media, or a live image. At most one; the
    check that says so (builder.checks.semantic) knows which file set each, so it can say what a child inherits.
    None: the public mirror of the target's distribution, when it has one (builder.checks.targets)."""

    url: Url | None = Field(None, description="Install tree URL (kickstart `url`); on EL8/EL9 the BaseOS tree.")
    cdrom: Bool = Field(False, description="Install from the boot DVD/ISO (kickstart `cdrom`).")
    liveimg: LiveImage | None = Field(None, description="Install a root image instead of packages (`liveimg`).")
    appstream: Url | None = Field(
        None, description="EL8/EL9: the AppStream tree (kickstart `repo --name=AppStream`); default: derived from "
        "a url naming BaseOS."
    )

    @property
    def kinds(self) -> tuple[str, ...]:
        """The source keys that are set, in the order the kickstart would list them."""
        return tuple(k for k, on in (("url", self.url is not None), ("cdrom", self.cdrom),
                                      ("liveimg", self.liveimg is not None)) if on)


# yum repo ids: letters, digits and - _ . : (yum's check of repo ids); capitals are common (CentOS-Base).
RepoId = Annotated[
    Line, matching(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}", "a repo id of letters, digits and - _ . : such as EPEL")
]
ProxyUser = Annotated[Line, matching(r"[A-Za-z0-9_.-]{1,64}", "a user name of letters, digits and _ . -")]


class Repo(Model):
    """An extra yum repository: used during install (kickstart `repo`) and written to
    /etc/yum.repos.d/<name>.repo; the option names are the kickstart's and yum's."""

    name: RepoId
    baseurl: Url
    gpgcheck: Bool = True
    gpgkey: UrlOrFile | None = Field(None, description="URL of the key; file:///etc/pki/rpm-gpg/... too.")
    enabled: Bool = True
    install: Bool = Field(True, description="Also use it during the install (kickstart `repo`).")
    file: Bool = Field(True, description="Write /etc/yum.repos.d/<name>.repo on the installed system.")
    cost: Int | None = Field(None, ge=0, le=1_000_000, description="yum cost (default 1000): lower wins.")
    proxy: ProxyUrl | None = Field(None, description="HTTP proxy, without credentials (repo --proxy, proxy=).")
    proxy_username: ProxyUser | None = Field(None, description="Proxy user (proxy_username=).")
    proxy_password_env: EnvName | None = Field(None, description="Environment variable with the proxy password.")
    proxy_password_file: SecretFile | None = Field(None, description="File with the proxy password.")
    includepkgs: tuple[PackageName, ...] = Field((), description="Only these packages (--includepkgs).")
    excludepkgs: tuple[PackageName, ...] = Field((), description="Never these packages (--excludepkgs, exclude=).")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not (self.install or self.file):
            raise ValueError("install: false and file: false leave nothing of this repo; drop it or set one")
        secret = [k for k in ("proxy_password_env", "proxy_password_file") if getattr(self, k) is not None]
        if len(secret) > 1:
            raise ValueError("give proxy_password_env or proxy_password_file, not both")
        if (secret or self.proxy_username is not None) and self.proxy is None:
            raise ValueError("proxy_username and proxy_password_* need proxy: (the proxy URL)")
        if secret and self.proxy_username is None:
            raise ValueError("a proxy password needs proxy_username")
        return self


class Install(Model):
    source: InstallSource = InstallSource()
    repos: tuple[Repo, ...] = ()
    finish: Literal["reboot", "poweroff"] = Field("reboot", description="What the installer does at the end.")


class Firewall(Model):
    enabled: Bool = False
    services: tuple[ServiceName, ...] = ()
    ports: tuple[FirewallPort, ...] = ()


class Services(Model):
    enabled: tuple[ServiceName, ...] = ()
    disabled: tuple[ServiceName, ...] = ()


class Keyboard(Model):
    """Console keymap and X layouts when they differ (kickstart `keyboard --vckeymap --xlayouts --switch`)."""

    vckeymap: KeyboardLayout = Field(description="Console keymap (/etc/vconsole.conf KEYMAP=), e.g. de.")
    xlayouts: tuple[XLayout, ...] = Field(
        (), description="X layouts in order, e.g. [de, us] or ['de (nodeadkeys)']; default: the keymap."
    )
    switch: tuple[XkbOption, ...] = Field((), description="Layout switching options, e.g. [grp:alt_shift_toggle].")

    @property
    def layouts(self) -> tuple[str, ...]:
        return self.xlayouts or (self.vckeymap,)


def _keyboard_shorthand(value: object) -> object:
    """`keyboard: de` is `{vckeymap: de}`: the same layout for the console and X, as ksbuild always wrote it."""
    return {"vckeymap": value} if isinstance(value, str) else value


class System(Model):
    hostname: HostName
    timezone: TimeZone = "UTC"
    utc: Bool = Field(True, description="Hardware clock in UTC.")
    ntp_servers: tuple[HostName, ...] = ()
    lang: Lang = "en_US.UTF-8"
    keyboard: Annotated[Keyboard, BeforeValidator(_keyboard_shorthand)] = Field(
        Keyboard(vckeymap="us"),
        description="One layout for console and X (keyboard: us), or {vckeymap:, xlayouts:, switch:}.",
    )
    selinux: Literal["enforcing", "permissive", "disabled"] = "enforcing"
    firewall: Firewall = Firewall()
    services: Services = Services()


class RootUser(Model):
    password_hash: CryptHash | None = Field(None, description="crypt(3) hash; plaintext is refused.")
    lock: Bool = Field(False, description="Lock root's password (log in with SSH keys only).")
    ssh_keys: tuple[SshPublicKey, ...] = ()
    ssh_password: Bool = Field(
        False, description="Root may log in over SSH with its password: EL9 refuses that unless asked "
        "(rootpw --allow-ssh); CentOS 7 and EL8 allow it anyway."
    )

    @model_validator(mode="after")
    def _has_login(self) -> Self:
        if self.password_hash is None and not self.lock:
            raise ValueError("set password_hash (a crypt hash) or lock: true")
        return self


class Account(Model):
    name: UserName
    gecos: Annotated[Line, AfterValidator(lambda v: v if ":" not in v else _no_colon())] | None = None
    groups: tuple[UserName, ...] = ()
    password_hash: CryptHash | None = None
    ssh_keys: tuple[SshPublicKey, ...] = ()


def _no_colon() -> str:
    raise ValueError("may not contain ':' (the passwd field separator)")


class Users(Model):
    root: RootUser
    accounts: tuple[Account, ...] = ()


class Packages(Model):
    environment: GroupName | None = Field(None, description="Environment group (@^name), e.g. minimal.")
    groups: tuple[GroupName, ...] = ("core",)
    install: tuple[PackageName, ...] = ()
    exclude: tuple[PackageName, ...] = ()
    weak_dependencies: Bool = Field(
        True, description="false: leave out packages only recommended by others (EL8/EL9 %packages "
        "--excludeWeakdeps / --exclude-weakdeps; CentOS 7's yum never installs them)."
    )
    languages: tuple[Lang, ...] = Field(
        (), description="Install translations for these languages only (%packages --instLangs / --inst-langs)."
    )


class Virtualization(Model):
    nested: Bool = Field(True, description="Write /etc/modprobe.d/kvm-nested.conf.")
    cpu: Literal["auto", "intel", "amd"] = Field("auto", description="Which kvm module gets nested=1.")
    require_hardware: Bool = Field(True, description="%pre stops the install when the CPU lacks vmx/svm.")
    default_network: Literal["keep", "remove"] = Field("keep", description="libvirt's NAT network virbr0.")


class Script(Model):
    name: Identifier
    interpreter: AbsolutePath = "/bin/bash"
    body: StrictStr
    erroronfail: Bool = Field(True, description="A failure of this script fails the install.")
    nochroot: Bool = Field(False, description="Run in the installer's environment (%post only).")

    @field_validator("body")
    @classmethod
    def _body_stays_inside(cls, body: str) -> str:
        for number, line in enumerate(body.splitlines(), start=1):
            if line.lstrip().startswith("%"):
                raise ValueError(
                    f"body line {number} starts with '%': kickstart would read it as a section header or %end; "
                    "indent it inside a command or rewrite it"
                )
        if "\x00" in body or "\r" in body:
            raise ValueError("body may not contain NUL or carriage-return characters")
        return body


class Scripts(Model):
    pre: tuple[Script, ...] = ()
    post: tuple[Script, ...] = ()


def _addon_body(body: str) -> str:
    for number, line in enumerate(body.splitlines(), start=1):
        if line.lstrip().startswith("%"):
            raise ValueError(f"body line {number} starts with '%': kickstart would read it as %end or a section")
    if _CONTROL_BUT_NEWLINE.search(body):
        raise ValueError("body may hold printable text, tabs and newlines only")
    return body


_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
AddonName = Annotated[
    Line, matching(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", "an addon name such as org_fedora_oscap (reversed domain, _)")
]
AddonArg = Annotated[
    Line,
    matching(r"--?[A-Za-z0-9][A-Za-z0-9_-]{0,63}(=[A-Za-z0-9_.,:/=+@%~-]{0,200})?",
             "an addon option such as --enable or --profile=pci-dss"),
]
def _reserve_mb(value: object) -> object:
    # One validator for both forms, so a mistake is reported at addons.kdump.reserve_mb, not per union member.
    if value == "auto":
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1024 * 1024:
        return value
    raise ValueError("must be auto or a size in MiB (1-1048576), e.g. reserve_mb: 256")


ReserveMb = Annotated[Literal["auto"] | int, PlainValidator(_reserve_mb)]


class KdumpAddon(Model):
    """anaconda's kdump addon (%addon com_redhat_kdump): it reserves crash kernel memory (crashkernel= on the
    installed kernel command line), installs kexec-tools and enables kdump.service."""

    enabled: Bool = Field(True, description="--enable, or --disable.")
    reserve_mb: ReserveMb = Field(
        "auto", description="auto (crashkernel=auto) or MiB (--reserve-mb=N: crashkernel=NM)."
    )

    @property
    def crashkernel(self) -> str | None:
        """The crashkernel= argument the addon puts on the installed kernel command line."""
        if not self.enabled:
            return None
        return "crashkernel=auto" if self.reserve_mb == "auto" else f"crashkernel={self.reserve_mb}M"


class Addon(Model):
    """Another %addon section, written as given: `%addon NAME ARGS...`, the body, `%end`."""

    name: AddonName = Field(description="Addon name, e.g. org_fedora_oscap.")
    args: tuple[AddonArg, ...] = Field((), description="Header options, e.g. [--enable].")
    body: Annotated[StrictStr, AfterValidator(_addon_body)] = Field("", description="Body lines (no '%' first).")


class Addons(Model):
    kdump: KdumpAddon | None = Field(None, description="%addon com_redhat_kdump.")
    extra: tuple[Addon, ...] = Field((), description="Other %addon sections, in order.")


# Kickstart command names are lowercase words (pykickstart's commandMap keys): `eula`, `auth`, `sshpw` ...
_COMMAND_WORD = re.compile(r"[a-z][a-z0-9_-]*")


def _command_line(value: str) -> str:
    """One kickstart command line, written as given: it must stay one command (no section, no %include, quotes
    balanced so that no quote runs into the next line of the kickstart)."""
    text = value.strip()
    if not text:
        raise ValueError("an empty line is not a kickstart command")
    if text.startswith("%"):
        raise ValueError("a line starting with '%' is a section header, %end or %include, not a command; "
                         "sections have keys of their own (scripts.pre, scripts.post, packages)")
    if text.startswith("#"):
        raise ValueError("a comment is not a command; leave it out")
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        raise ValueError("unbalanced quote: pykickstart cannot split this line") from None
    if not words or not _COMMAND_WORD.fullmatch(words[0]):
        raise ValueError("must start with a kickstart command name (lowercase), such as eula or auth")
    return text


CommandLineText = Annotated[Line, AfterValidator(_command_line)]


class Kickstart(Model):
    """Kickstart commands the profile has no key for, written into the kickstart as given (`ksbuild import`
    keeps what it cannot map here, visibly)."""

    extra_commands: tuple[CommandLineText, ...] = Field(
        (), description="Command lines written as given after the commands ksbuild writes, e.g. "
        "['eula --agreed', 'auth --enableshadow --passalgo=sha512'].",
    )


class Profile(Model):
    """A KVM hypervisor install for one target (CentOS 7, EL8, EL9), as one YAML profile describes it."""

    extends: Line | None = Field(None, description="Base profile: a name in the same folder or a relative path.")
    description: Line = ""
    target: TargetRef = Field(targets.DEFAULT_TARGET, description="centos7, el8 or el9, or an alias such as rocky9.",
                              json_schema_extra={"enum": list[JsonValue](sorted(targets.ALIASES))})
    templates: Line | None = Field(None, description="Folder of template overrides, relative to this profile.")
    seal: Bool = Field(False, description="Remove host identity at the end of the install (golden images).")
    install: Install = Install()
    system: System
    users: Users
    storage: Storage = Storage()
    packages: Packages = Packages()
    virtualization: Virtualization = Virtualization()
    network: Network = Network()
    scripts: Scripts = Scripts()
    addons: Addons = Addons()
    kickstart: Kickstart = Kickstart()

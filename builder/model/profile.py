"""The profile: one frozen, typed description of a KVM hypervisor install."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, StrictStr, field_validator, model_validator

from builder.model.network import Network
from builder.model.storage import Storage
from builder.model.types import (
    AbsolutePath,
    Bool,
    CryptHash,
    FirewallPort,
    GroupName,
    HostName,
    Identifier,
    KeyboardLayout,
    Lang,
    Line,
    Model,
    PackageName,
    ServiceName,
    SshPublicKey,
    TimeZone,
    Url,
    UserName,
)

Target = Literal["centos7"]


class InstallSource(Model):
    """Where the installer takes packages from: a URL tree or the boot media."""

    url: Url | None = Field(None, description="Install tree URL (kickstart `url`).")
    cdrom: Bool = Field(False, description="Install from the boot DVD/ISO (kickstart `cdrom`).")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.url is not None) == self.cdrom:
            raise ValueError("give exactly one of url: ... or cdrom: true")
        return self


class Repo(Model):
    """An extra yum repository: used during install and written to /etc/yum.repos.d/<name>.repo."""

    name: Identifier
    baseurl: Url
    gpgcheck: Bool = True
    gpgkey: Url | None = None
    enabled: Bool = True
    install: Bool = Field(True, description="Also use it during the install (kickstart `repo`).")


class Install(Model):
    source: InstallSource
    repos: tuple[Repo, ...] = ()
    finish: Literal["reboot", "poweroff"] = Field("reboot", description="What the installer does at the end.")


class Firewall(Model):
    enabled: Bool = False
    services: tuple[ServiceName, ...] = ()
    ports: tuple[FirewallPort, ...] = ()


class Services(Model):
    enabled: tuple[ServiceName, ...] = ()
    disabled: tuple[ServiceName, ...] = ()


class System(Model):
    hostname: HostName
    timezone: TimeZone = "UTC"
    utc: Bool = Field(True, description="Hardware clock in UTC.")
    ntp_servers: tuple[HostName, ...] = ()
    lang: Lang = "en_US.UTF-8"
    keyboard: KeyboardLayout = "us"
    selinux: Literal["enforcing", "permissive", "disabled"] = "enforcing"
    firewall: Firewall = Firewall()
    services: Services = Services()


class RootUser(Model):
    password_hash: CryptHash | None = Field(None, description="crypt(3) hash; plaintext is refused.")
    lock: Bool = Field(False, description="Lock root's password (log in with SSH keys only).")
    ssh_keys: tuple[SshPublicKey, ...] = ()

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


class Profile(Model):
    """A CentOS 7 KVM hypervisor install, as one YAML profile describes it."""

    extends: Line | None = Field(None, description="Base profile: a name in the same folder or a relative path.")
    description: Line = ""
    target: Target = "centos7"
    templates: Line | None = Field(None, description="Folder of template overrides, relative to this profile.")
    seal: Bool = Field(False, description="Remove host identity at the end of the install (golden images).")
    install: Install
    system: System
    users: Users
    storage: Storage = Storage()
    packages: Packages = Packages()
    virtualization: Virtualization = Virtualization()
    network: Network = Network()
    scripts: Scripts = Scripts()

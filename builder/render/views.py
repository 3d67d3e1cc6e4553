"""Derived views of the install source, keyboard and repos that the templates format, and the boot verifier
compares with the installed host (what the files on the host must say). Secrets are joined in here, from the
render-time `Secrets`, so no template has to know where a password comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from builder.model.profile import Profile, Repo
from builder.render.secrets import NO_SECRETS, Secrets

REPO_DIR = "/etc/yum.repos.d"
# The repo-file line that holds a secret: the verifier compares everything else.
SECRET_REPO_KEYS = ("proxy_password",)


@dataclass(frozen=True)
class KeyboardView:
    """kickstart `keyboard --vckeymap --xlayouts --switch`; one string in the profile means the same layout for
    the console and X, as before."""

    vckeymap: str
    xlayouts: tuple[str, ...]
    switch: tuple[str, ...] = ()


def keyboard_view(profile: Profile) -> KeyboardView:
    keyboard = profile.system.keyboard
    return KeyboardView(keyboard.vckeymap, keyboard.layouts, keyboard.switch)


@dataclass(frozen=True)
class InstallRepo:
    """One kickstart `repo` line."""

    name: str
    baseurl: str
    cost: int | None
    proxy: str | None  # with user:password@ when the profile names a password
    includepkgs: tuple[str, ...]
    excludepkgs: tuple[str, ...]


@dataclass(frozen=True)
class RepoFile:
    """/etc/yum.repos.d/<name>.repo as written in %post."""

    name: str
    entries: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        return f"{REPO_DIR}/{self.name}.repo"

    @property
    def text(self) -> str:
        return f"[{self.name}]\n" + "".join(f"{key}={value}\n" for key, value in self.entries)

    @property
    def mode(self) -> str:
        """0600 when the file holds a password (yum reads it as root), 0644 otherwise, as yum's own."""
        return "0600" if self.has_secret else "0644"

    @property
    def has_secret(self) -> bool:
        return any(key in SECRET_REPO_KEYS for key, _ in self.entries)

    @property
    def public_text(self) -> str:
        """The file without its secret lines: what a verifier may hash."""
        return f"[{self.name}]\n" + "".join(
            f"{key}={value}\n" for key, value in self.entries if key not in SECRET_REPO_KEYS
        )


def _with_credentials(proxy: str, user: str, password: str | None) -> str:
    parts = urlsplit(proxy)
    userinfo = user if password is None else f"{user}:{password}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def _password(repo: Repo, index: int, secrets: Secrets) -> str | None:
    if repo.proxy_password_env is None and repo.proxy_password_file is None:
        return None
    return secrets.get("install", "repos", index)


def install_repos(profile: Profile, secrets: Secrets = NO_SECRETS) -> tuple[InstallRepo, ...]:
    """The kickstart `repo` lines: repos with install: true; none with liveimg (anaconda installs no packages)."""
    if profile.install.source.liveimg is not None:
        return ()
    lines = []
    for index, repo in enumerate(profile.install.repos):
        if not repo.install:
            continue
        proxy = repo.proxy
        if proxy is not None and repo.proxy_username is not None:
            proxy = _with_credentials(proxy, repo.proxy_username, _password(repo, index, secrets))
        lines.append(InstallRepo(repo.name, repo.baseurl, repo.cost, proxy, repo.includepkgs, repo.excludepkgs))
    return tuple(lines)


def repo_files(profile: Profile, secrets: Secrets = NO_SECRETS, *, with_secrets: bool = True) -> tuple[RepoFile, ...]:
    """The .repo files of the installed system, in profile order (repos with file: true). `with_secrets=False`
    leaves the password out (the verifier's view; it never needs the value)."""
    files = []
    for index, repo in enumerate(profile.install.repos):
        if not repo.file:
            continue
        entries: list[tuple[str, str]] = [
            ("name", repo.name),
            ("baseurl", repo.baseurl),
            ("enabled", "1" if repo.enabled else "0"),
            ("gpgcheck", "1" if repo.gpgcheck else "0"),
        ]
        if repo.gpgkey:
            entries.append(("gpgkey", repo.gpgkey))
        if repo.cost is not None:
            entries.append(("cost", str(repo.cost)))
        if repo.proxy is not None:
            entries.append(("proxy", repo.proxy))
        if repo.proxy_username is not None:
            entries.append(("proxy_username", repo.proxy_username))
        if repo.proxy_password_env is not None or repo.proxy_password_file is not None:
            value = _password(repo, index, secrets) if with_secrets else ""
            entries.append(("proxy_password", value or ""))
        if repo.includepkgs:
            entries.append(("includepkgs", " ".join(repo.includepkgs)))
        if repo.excludepkgs:
            entries.append(("exclude", " ".join(repo.excludepkgs)))
        files.append(RepoFile(repo.name, tuple(entries)))
    return tuple(files)

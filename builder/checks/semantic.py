"""Checks that need the whole profile: cross-references, subnets, uniqueness.

Each check yields (key path, message, severity); `check_profile` turns them into located findings so that
every problem is reported at once, each at the file:line the value came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from builder.checks.network import network_problems
from builder.checks.storage import layout_problems_of, storage_problems
from builder.contract import RESERVED_SCRIPT_NAMES
from builder.errors import Finding, Severity
from builder.model.profile import Profile
from builder.rules import rule
from builder.vocabulary import KeyPath, Locate, format_key

Problem = tuple[KeyPath, str, Severity]


def check_profile(profile: Profile, locate: Locate, workdir: Path | None = None) -> list[Finding]:
    """Every semantic check; `workdir` is where a `templates:` folder given without a file (--set) starts."""
    findings = [
        # The storage checks kickstarts get too: a rule id each, at the severity rendered kickstarts have.
        Finding(check="semantic", message=message, location=locate(path), key=format_key(path),
                severity=rule(rule_id).rendered, rule=rule_id)
        for path, rule_id, message in layout_problems_of(profile)
    ]
    checks = (network_problems, storage_problems, _check_services, _check_users, _check_scripts, _check_repos)
    for check in checks:
        for path, message, severity in check(profile):
            findings.append(
                Finding(check="semantic", message=message, location=locate(path), key=format_key(path),
                        severity=severity)
            )
    findings.extend(check_templates_dir(profile, locate, workdir))
    return findings


def templates_dir_of(profile: Profile, locate: Locate, workdir: Path | None = None) -> Path | None:
    """The `templates:` folder, relative to the file that set it (to `workdir` when --set gave it)."""
    if profile.templates is None:
        return None
    origin = locate(("templates",))
    if origin.line is not None:
        base = Path(origin.file).parent
        if workdir is not None and not base.is_absolute():
            base = workdir / base  # the file as messages show it, relative to the working folder
    else:
        base = workdir if workdir is not None else Path()
    return (base / profile.templates).resolve()


def check_templates_dir(profile: Profile, locate: Locate, workdir: Path | None = None) -> list[Finding]:
    folder = templates_dir_of(profile, locate, workdir)
    if folder is None or folder.is_dir():
        return []
    return [Finding("semantic", f"template folder {folder} does not exist", locate(("templates",)), "templates")]


def _check_services(profile: Profile) -> Iterator[Problem]:
    services = profile.system.services
    disabled = set(services.disabled)
    for index, name in enumerate(services.enabled):
        if name in disabled:
            yield ("system", "services", "enabled", index), f"{name} is both enabled and disabled", "error"
    firewall = profile.system.firewall
    if not firewall.enabled and (firewall.services or firewall.ports):
        yield ("system", "firewall"), "services/ports are ignored while the firewall is disabled", "warning"
    if firewall.enabled and "firewalld" in disabled:
        yield ("system", "firewall", "enabled"), "firewall enabled but firewalld is in services.disabled", "error"


def _check_users(profile: Profile) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, account in enumerate(profile.users.accounts):
        path: KeyPath = ("users", "accounts", index, "name")
        if account.name == "root":
            yield path, "root is configured under users.root, not as an account", "error"
        elif account.name in seen:
            yield path, f"account {account.name} is already defined at users.accounts[{seen[account.name]}]", "error"
        seen.setdefault(account.name, index)


def _check_scripts(profile: Profile) -> Iterator[Problem]:
    for phase, scripts in (("pre", profile.scripts.pre), ("post", profile.scripts.post)):
        seen: set[str] = set()
        for index, script in enumerate(scripts):
            path: KeyPath = ("scripts", phase, index)
            if script.name in seen:
                yield (*path, "name"), f"another {phase} script is named {script.name}", "error"
            if script.name in RESERVED_SCRIPT_NAMES:
                yield (*path, "name"), f"{script.name} is the name of a section ksbuild writes; pick another", "error"
            seen.add(script.name)
            if phase == "pre" and script.nochroot:
                yield (*path, "nochroot"), "%pre scripts always run in the installer; nochroot is for %post", "error"


def _check_repos(profile: Profile) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, repo in enumerate(profile.install.repos):
        if repo.name in seen:
            yield ("install", "repos", index, "name"), f"another repo is named {repo.name}", "error"
        seen.add(repo.name)
        if repo.gpgcheck and repo.gpgkey is None:
            yield (("install", "repos", index, "gpgkey"),
                   "gpgcheck is on but no gpgkey is given; yum will refuse unsigned or unknown-key packages",
                   "warning")

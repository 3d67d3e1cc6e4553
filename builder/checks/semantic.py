"""Checks that need the whole profile: cross-references, subnets, uniqueness.

Each check yields (key path, message, severity); `check_profile` turns them into located findings so that
every problem is reported at once, each at the file:line the value came from.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path

from builder.checks.includes import include_problems
from builder.checks.network import network_problems
from builder.checks.storage import layout_problems_of, storage_problems
from builder.checks.storage_options import storage_option_problems
from builder.checks.targets import default_tree_hint, target_problems
from builder.contract import RESERVED_SCRIPT_NAMES
from builder.errors import Finding, Severity
from builder.fsutil import is_dir, real_path
from builder.model.profile import Profile
from builder.rules import rule
from builder.vocabulary import TEMPLATE_COMMANDS, KeyPath, Locate, format_key

Problem = tuple[KeyPath, str, Severity]


def check_profile(profile: Profile, locate: Locate, workdir: Path | None = None) -> list[Finding]:
    """Every semantic check; `workdir` is where a `templates:` folder given without a file (--set) starts."""
    findings = [
        # The storage checks kickstarts get too: a rule id each, at the severity rendered kickstarts have.
        Finding(check="semantic", message=message, location=locate(path), key=format_key(path),
                severity=rule(rule_id).rendered, rule=rule_id)
        for path, rule_id, message in layout_problems_of(profile)
    ]
    checks = (network_problems, storage_problems, storage_option_problems, include_problems, _check_services,
              _check_users, _check_scripts, _check_repos, _check_liveimg, _check_addons, _check_extra_commands,
              target_problems)
    for check in checks:
        for path, message, severity in check(profile):
            findings.append(
                Finding(check="semantic", message=message, location=locate(path), key=format_key(path),
                        severity=severity)
            )
    findings.extend(_check_source(profile, locate))
    findings.extend(check_templates_dir(profile, locate, workdir))
    return findings


def _check_source(profile: Profile, locate: Locate) -> list[Finding]:
    """Exactly one install source. Each may come from another file (a base profile, --set), so the message says
    where each one was set and how a child removes an inherited one."""
    source = profile.install.source
    kinds = source.kinds
    if len(kinds) == 1:
        return []
    if not kinds:
        hint = default_tree_hint(profile)
        if hint is None:
            return []  # the alias's public mirror is the source
        where = locate(("install", "source"))
        message = "no install source: give url:, cdrom: true or liveimg: {url: ...}" + hint
        return [Finding("semantic", message, where, "install.source")]
    top = locate(()).file
    placed = {kind: locate(("install", "source", kind)) for kind in kinds}
    # Report at the one the user just set: the top file's, or a --set's, else the last.
    own = [k for k in kinds if placed[k].file == top or placed[k].line is None] or [kinds[-1]]
    here = own[-1]
    others = [k for k in kinds if k != here]
    told = []
    for kind in others:
        origin = placed[kind]
        inherited = " (a base profile)" if origin.line is not None and origin.file != top else ""
        remove = "false" if kind == "cdrom" else "null"
        told.append(f"{kind} comes from {origin}{inherited}; `{kind}: {remove}` under install.source removes it")
    message = (f"{' and '.join(kinds)} are all install sources; anaconda uses one. " if len(kinds) > 2
               else f"{here} and {others[0]} are both install sources; anaconda uses one. ") + "; ".join(told)
    return [Finding("semantic", message, placed[here], f"install.source.{here}")]


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
    return real_path(base / profile.templates)


def check_templates_dir(profile: Profile, locate: Locate, workdir: Path | None = None) -> list[Finding]:
    folder = templates_dir_of(profile, locate, workdir)
    if folder is None or is_dir(folder):
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


def _check_liveimg(profile: Profile) -> Iterator[Problem]:
    """anaconda's live image payload copies the image and installs no packages: %packages would be ignored
    silently, so asking for packages is an error; repos are only used for the installed system's files."""
    if profile.install.source.liveimg is None:
        return
    packages = profile.packages
    asked = [key for key, value in (("install", packages.install), ("exclude", packages.exclude),
                                    ("environment", packages.environment)) if value]
    if packages.groups not in ((), ("core",)):
        asked.append("groups")
    for key in asked:
        yield (("packages", key), "liveimg installs the image as it is and no packages (anaconda's image payload "
               "ignores %packages): install them in the image, or from a %post with yum", "error")
    for index, repo in enumerate(profile.install.repos):
        if repo.install:
            yield (("install", "repos", index, "install"),
                   "with liveimg the installer uses no repos: no kickstart `repo` line is written; set "
                   "install: false (the .repo file is still written)", "warning")


KDUMP_ADDON = "com_redhat_kdump"


def _check_addons(profile: Profile) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, addon in enumerate(profile.addons.extra):
        path: KeyPath = ("addons", "extra", index, "name")
        if addon.name == KDUMP_ADDON:
            yield path, "configure kdump with addons.kdump (enabled, reserve_mb)", "error"
        elif addon.name in seen:
            yield path, f"addons.extra[{seen[addon.name]}] is {addon.name} too; anaconda reads one section", "error"
        seen.setdefault(addon.name, index)
    kdump = profile.addons.kdump
    if kdump is not None and kdump.enabled and "kexec-tools" in profile.packages.exclude:
        yield (("packages", "exclude"), "kdump is enabled (addons.kdump) and needs kexec-tools, which is "
               "excluded here", "error")


def _check_repos(profile: Profile) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, repo in enumerate(profile.install.repos):
        if repo.name in seen:
            yield ("install", "repos", index, "name"), f"another repo is named {repo.name}", "error"
        seen.add(repo.name)
        if repo.includepkgs and repo.excludepkgs:
            overlap = sorted(set(repo.includepkgs) & set(repo.excludepkgs))
            if overlap:
                yield (("install", "repos", index, "excludepkgs"),
                       f"{', '.join(overlap)} is both included and excluded", "error")
        if repo.gpgcheck and repo.gpgkey is None:
            yield (("install", "repos", index, "gpgkey"),
                   "gpgcheck is on but no gpgkey is given; yum will refuse unsigned or unknown-key packages",
                   "warning")


# Commands the templates write that a profile may still add more of, each naming its own user or repo (the
# option that names it): a `repo --mirrorlist` that install.repos cannot say, a user with --uid or --shell.
_MORE_ALLOWED = {"user": "--name", "sshkey": "--username", "repo": "--name"}
# Options whose value is a password or passphrase (--pass: the abbreviation pykickstart's parser accepts for both).
SECRET_OPTIONS = ("--password", "--passphrase", "--pass")
# Commands whose argument is the password itself.
_PASSWORD_COMMANDS = ("rootpw", "sshpw")


def holds_plaintext_secret(words: Sequence[str]) -> bool:
    """Whether a kickstart command's words (its name first) carry a password or passphrase in plaintext:
    --plaintext, or without --iscrypted a password option or the argument of rootpw/sshpw. The one rule for the
    import and for kickstart.extra_commands."""
    if "--plaintext" in words:
        return True
    if "--iscrypted" in words:
        return False
    if any(word.split("=", 1)[0] in SECRET_OPTIONS for word in words[1:] if word.startswith("--")):
        return True
    return bool(words) and words[0] in _PASSWORD_COMMANDS and any(not word.startswith("-") for word in words[1:])


def _option_value(words: list[str], name: str) -> str | None:
    for index, word in enumerate(words):
        if word == name and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
    return None


def _check_extra_commands(profile: Profile) -> Iterator[Problem]:
    """kickstart.extra_commands: no second copy of a setting the profile writes, no plaintext secret."""
    users = {"root", *(account.name for account in profile.users.accounts)}
    repos = {repo.name for repo in profile.install.repos}
    for index, line in enumerate(profile.kickstart.extra_commands):
        path: KeyPath = ("kickstart", "extra_commands", index)
        words = shlex.split(line, comments=True)  # the model made sure this splits
        name = words[0]
        if name in TEMPLATE_COMMANDS and name not in _MORE_ALLOWED:
            key = TEMPLATE_COMMANDS[name]
            where = f"from {format_key(key)}" if key else "always"
            yield path, (f"ksbuild writes `{name}` {where}; a second `{name}` line would replace it. "
                         + (f"Set {format_key(key)} instead" if key else "Leave it out")), "error"
        owner = _option_value(words, _MORE_ALLOWED[name]) if name in _MORE_ALLOWED else None
        if name == "repo" and owner in repos:
            yield path, (f"`repo` {owner}: that repo is in install.repos, which writes its own `repo` line; set it "
                         "there"), "error"
        elif name in _MORE_ALLOWED and name != "repo" and owner in users:
            yield path, (f"`{name}` for {owner}: that user is in users:, which writes its own `{name}` line; "
                         "set it there"), "error"
        if holds_plaintext_secret(words):
            # Never repeat the value.
            yield path, ("holds a plaintext password or passphrase; a profile holds hashes only "
                         "(`openssl passwd -6` makes one)"), "error"

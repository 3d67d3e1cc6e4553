"""Kickstart commands (everything but storage and network) → profile keys.

Each mapper reads pykickstart's object for the line, sets keys with the line as their origin, and reports what it
could not carry. Decisions:
- Commands ksbuild always writes the same way (`install`, `text`, `skipx`, `firstboot --disabled`) are mapped;
  what differs from them (`cmdline`, `graphical`, `firstboot --enable`) is reported as not carried, because a
  second display-mode or firstboot line in `kickstart.extra_commands` would replace ksbuild's.
- A command without a key is passed through as written (`kickstart.extra_commands`), unless it holds a plaintext
  secret: then the import refuses it with the fix.
- Plaintext root passwords are never carried: `--rootpw-hash` gives the hash, or the import fails with the fix.
- `user` and `sshkey` lines with options the profile has no key for (--uid, --shell ...) are passed through
  whole, so nothing of the account is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote, urlsplit, urlunsplit

from pykickstart.constants import (
    FIRSTBOOT_DEFAULT,
    FIRSTBOOT_SKIP,
    KS_REBOOT,
    KS_SHUTDOWN,
    SELINUX_DISABLED,
    SELINUX_ENFORCING,
    SELINUX_PERMISSIVE,
)

from builder.checks.semantic import holds_plaintext_secret
from builder.importer.context import ImportContext, given_options, line_text, refused_url
from builder.model.types import Url, is_crypt_hash
from builder.validate.kickstart import CommandLine

# Where a secret the kickstart held in plaintext is read at render time instead (the report says so).
LUKS_PASSPHRASE_ENV = "KSBUILD_LUKS_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
PROXY_PASSWORD_ENV = "KSBUILD_PROXY_PASSWORD"  # noqa: S105 - a variable name, not a secret
HASH_FIX = ("make a hash with `openssl passwd -6` and give it with --rootpw-hash (or put `rootpw --iscrypted "
            "HASH` in the kickstart)")


def _install(ctx: ImportContext, command: CommandLine) -> None:
    if command.name == "upgrade":
        ctx.ledger.dropped(command.location, line_text(command), "ksbuild installs; it does not upgrade", lines=1)
        return
    ctx.ledger.mapped(command.location, line_text(command), [])


def _display(ctx: ImportContext, command: CommandLine) -> None:
    if command.name == "text":
        ctx.unhandled(command, set(), {"nonInteractive": "no profile key for text --non-interactive"})
        ctx.ledger.mapped(command.location, "text", [])
        return
    ctx.ledger.dropped(command.location, line_text(command),
                       "ksbuild always writes `text` (an unattended text install); a second display mode would "
                       "replace it", lines=1)


def _always(ctx: ImportContext, command: CommandLine) -> None:
    ctx.ledger.mapped(command.location, line_text(command), [])


def _firstboot(ctx: ImportContext, command: CommandLine) -> None:
    if command.data.firstboot in (FIRSTBOOT_SKIP,):
        ctx.ledger.mapped(command.location, line_text(command), [])
        return
    default = command.data.firstboot == FIRSTBOOT_DEFAULT
    same = " (the same on a text install)" if default else ""
    ctx.ledger.dropped(command.location, line_text(command), f"ksbuild always writes `firstboot --disabled`{same}",
                       lines=1)


def _url(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    if data.url:
        ctx.draft.set(("install", "source", "url"), data.url, command.location)
        ctx.ledger.mapped(command.location, line_text(command), [("install", "source", "url")])
    else:
        ctx.ledger.refuse(command.location, ("install", "source"), "url --mirrorlist: a profile takes an install "
                          "tree URL (url --url=...); give the tree of one mirror")
    ctx.unhandled(command, {"url", "mirrorlist"})


def _cdrom(ctx: ImportContext, command: CommandLine) -> None:
    ctx.draft.set(("install", "source", "cdrom"), True, command.location)
    ctx.ledger.mapped(command.location, line_text(command), [("install", "source", "cdrom")])


def _liveimg(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    image: dict[str, object] = {"url": data.url}
    if data.checksum:
        image["checksum"] = data.checksum
    if data.proxy:
        image["proxy"] = data.proxy
    if data.noverifyssl:
        image["noverifyssl"] = True
    ctx.draft.set(("install", "source", "liveimg"), image, command.location)
    ctx.ledger.mapped(command.location, line_text(command), [("install", "source", "liveimg")])
    ctx.unhandled(command, {"url", "checksum", "proxy", "noverifyssl"})


def _other_source(ctx: ImportContext, command: CommandLine) -> None:
    ctx.ledger.refuse(command.location, ("install", "source"),
                      f"{command.name}: a profile installs from a URL tree (install.source.url: http/https/ftp), "
                      "the boot media (cdrom: true) or a live image; give one of those")


def _repo(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    if not data.baseurl:
        ctx.pass_through(command, "repo --mirrorlist: install.repos takes a baseurl")
        return
    refused = refused_url(data.baseurl, Url)
    if refused is not None:
        # Anaconda expands yum's $releasever/$basearch in repo URLs; a profile's baseurl takes a plain URL.
        ctx.pass_through(command, f"install.repos[].baseurl refuses it: {refused}")
        return
    repo: dict[str, object] = {"name": data.name, "baseurl": data.baseurl}
    if data.cost is not None:
        repo["cost"] = data.cost
    if data.proxy:
        proxy = urlsplit(data.proxy)
        if proxy.username is not None:
            # Never carry the password: the profile names where it is read at render time.
            repo["proxy"] = urlunsplit(proxy._replace(netloc=proxy.netloc.rsplit("@", 1)[1]))
            repo["proxy_username"] = unquote(proxy.username)
            if proxy.password is not None:
                repo["proxy_password_env"] = PROXY_PASSWORD_ENV
                ctx.ledger.note(command.location, "repo --proxy", f"the proxy password is not carried: set "
                                f"{PROXY_PASSWORD_ENV} when rendering", [("install", "repos")])
        else:
            repo["proxy"] = data.proxy
    if data.includepkgs:
        repo["includepkgs"] = list(data.includepkgs)
    if data.excludepkgs:
        repo["excludepkgs"] = list(data.excludepkgs)
    if not data.install:
        # Without --install anaconda uses the repo during the install only (a %post .repo file sets it back).
        repo["file"] = False
    index = ctx.draft.append(("install", "repos"), repo, command.location)
    key = ("install", "repos", index)
    ctx.ledger.mapped(command.location, line_text(command), [key])
    ctx.unhandled(command, {"name", "baseurl", "install", "cost", "proxy", "includepkgs", "excludepkgs"})


def _lang(ctx: ImportContext, command: CommandLine) -> None:
    ctx.draft.set(("system", "lang"), command.data.lang, command.location)
    ctx.ledger.mapped(command.location, line_text(command), [("system", "lang")])
    ctx.unhandled(command, {"lang"})


def _keyboard(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    keymap = data.vc_keymap or (data.x_layouts[0] if data.x_layouts else "") or data._keyboard
    if not keymap:
        ctx.ledger.dropped(command.location, line_text(command), "no layout given", lines=1)
        return
    layouts = list(data.x_layouts)
    switch = list(data.switch_options)
    if layouts in ([], [keymap]) and not switch:
        value: object = keymap  # one layout for the console and X: the shorthand
    else:
        value = {"vckeymap": keymap, **({"xlayouts": layouts} if layouts else {}),
                 **({"switch": switch} if switch else {})}
    ctx.draft.set(("system", "keyboard"), value, command.location)
    ctx.ledger.mapped(command.location, line_text(command), [("system", "keyboard")])


def _timezone(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    keys = [("system", "timezone")]
    ctx.draft.set(("system", "timezone"), data.timezone, command.location)
    ctx.draft.set(("system", "utc"), bool(data.isUtc), command.location)
    keys.append(("system", "utc"))
    if data.ntpservers:
        ctx.draft.set(("system", "ntp_servers"), sorted(data.ntpservers), command.location)
        keys.append(("system", "ntp_servers"))
    ctx.ledger.mapped(command.location, line_text(command), keys)
    ctx.unhandled(command, {"timezone", "isUtc", "ntpservers"})


def _rootpw(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    keys = []
    if ctx.rootpw_hash is not None:
        ctx.draft.set(("users", "root", "password_hash"), ctx.rootpw_hash, command.location)
        keys.append(("users", "root", "password_hash"))
        ctx.ledger.note(command.location, "rootpw", "the hash given with --rootpw-hash replaces this line's value",
                        keys)
    elif data.password and data.isCrypted:
        if is_crypt_hash(data.password):
            ctx.draft.set(("users", "root", "password_hash"), data.password, command.location)
            keys.append(("users", "root", "password_hash"))
        else:
            ctx.ledger.refuse(command.location, ("users", "root", "password_hash"),
                              "rootpw --iscrypted: the value is not a crypt(3) hash ($6$salt$hash); " + HASH_FIX)
    elif data.password:
        # Never repeat the value.
        ctx.ledger.refuse(command.location, ("users", "root", "password_hash"),
                          "rootpw holds a plaintext password, which a profile never carries; " + HASH_FIX)
    if data.lock:
        ctx.draft.set(("users", "root", "lock"), True, command.location)
        keys.append(("users", "root", "lock"))
    # Root logging in over SSH with this password: what sshd allows by default before EL9 (whose handler has
    # --allow-ssh, and only with it). Kept explicit so that the profile keeps it on any target (builder.targets).
    allowed = data.allow_ssh if hasattr(data, "allow_ssh") else True
    if ("users", "root", "password_hash") in keys and not data.lock and allowed:
        ctx.draft.set(("users", "root", "ssh_password"), True, command.location)
        keys.append(("users", "root", "ssh_password"))
    ctx.ledger.mapped(command.location, line_text(command), keys)


def _user(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    if data.password and not data.isCrypted:
        ctx.ledger.refuse(command.location, ("users", "accounts"),
                          f"user {data.name}: --password is a plaintext password, which a profile never carries; "
                          "make a hash with `openssl passwd -6` and write `--iscrypted --password=HASH` in the "
                          "kickstart")
        return
    extra = [option for option, dest in given_options(command) if dest not in ("name", "groups", "gecos", "password",
                                                                        "isCrypted", "lock")]
    if extra or (data.password and not is_crypt_hash(data.password)):
        why = f"no profile key for {', '.join(extra)}" if extra else "the --password value is not a crypt hash"
        ctx.pass_through(command, f"user {data.name}: {why}; the whole line is kept so the account stays as written")
        return
    account: dict[str, object] = {"name": data.name}
    if data.gecos:
        account["gecos"] = data.gecos
    if data.groups:
        account["groups"] = list(data.groups)
    if data.password:
        account["password_hash"] = data.password
    index = ctx.draft.append(("users", "accounts"), account, command.location)
    ctx.ledger.mapped(command.location, line_text(command), [("users", "accounts", index)])


def _sshkey(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    user = data.username
    if user == "root":
        keys = list(ctx.draft.get(("users", "root", "ssh_keys"), []))
        keys.append(data.key)
        ctx.draft.set(("users", "root", "ssh_keys"), keys, command.location)
        ctx.ledger.mapped(command.location, line_text(command), [("users", "root", "ssh_keys", len(keys) - 1)])
        return
    accounts = ctx.draft.get(("users", "accounts"), [])
    for index, account in enumerate(accounts):
        if account["name"] == user:
            keys = account.setdefault("ssh_keys", [])
            keys.append(data.key)
            path = ("users", "accounts", index, "ssh_keys", len(keys) - 1)
            ctx.draft.origins[path] = command.location
            ctx.ledger.mapped(command.location, line_text(command), [path])
            return
    ctx.pass_through(command, f"the account {user} is not under users.accounts")


def _selinux(ctx: ImportContext, command: CommandLine) -> None:
    mode = {SELINUX_DISABLED: "disabled", SELINUX_ENFORCING: "enforcing", SELINUX_PERMISSIVE: "permissive"}.get(
        command.data.selinux)
    if mode is None:
        ctx.ledger.dropped(command.location, line_text(command), "no SELinux mode given", lines=1)
        return
    ctx.draft.set(("system", "selinux"), mode, command.location)
    ctx.ledger.mapped(command.location, line_text(command), [("system", "selinux")])


def _firewall(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    ctx.draft.set(("system", "firewall", "enabled"), bool(data.enabled), command.location)
    keys = [("system", "firewall", "enabled")]
    if data.services:
        ctx.draft.set(("system", "firewall", "services"), list(dict.fromkeys(data.services)), command.location)
        keys.append(("system", "firewall", "services"))
    if data.ports:
        # firewall --port=16509:tcp; the profile writes ports as firewalld does, 16509/tcp.
        ports = [port.replace(":", "/") for port in data.ports]
        ctx.draft.set(("system", "firewall", "ports"), ports, command.location)
        keys.append(("system", "firewall", "ports"))
    ctx.ledger.mapped(command.location, line_text(command), keys)
    flags = {dest: "" for dest in ("ssh", "smtp", "http", "ftp", "telnet")}
    ctx.unhandled(command, {"enabled", "services", "ports", *flags})


def _services(ctx: ImportContext, command: CommandLine) -> None:
    data = command.data
    keys = []
    for kind in ("enabled", "disabled"):
        names = list(getattr(data, kind))
        if names:
            ctx.draft.set(("system", "services", kind), names, command.location)
            keys.append(("system", "services", kind))
    ctx.ledger.mapped(command.location, line_text(command), keys)


def _ending(ctx: ImportContext, command: CommandLine) -> None:
    action = command.data.action
    if action == KS_REBOOT:
        finish = "reboot"
    elif action == KS_SHUTDOWN and command.name in ("poweroff", "shutdown"):
        finish = "poweroff"
    else:
        ctx.draft.set(("install", "finish"), "poweroff", command.location)
        ctx.ledger.dropped(command.location, line_text(command),
                           f"{command.name} leaves the machine waiting for a key press; ksbuild ends an unattended "
                           "install with reboot or poweroff (poweroff here)", lines=1)
        return
    ctx.draft.set(("install", "finish"), finish, command.location)
    ctx.ledger.mapped(command.location, line_text(command), [("install", "finish")])
    ctx.unhandled(command, {"action"})


def _generic(ctx: ImportContext, command: CommandLine) -> None:
    if holds_plaintext_secret(command.args):
        ctx.ledger.refuse(command.location, ("kickstart", "extra_commands"),
                          f"{command.name} holds a plaintext password, which a profile never carries; hash it "
                          "(`openssl passwd -6`) and write it with --iscrypted in the kickstart")
        return
    ctx.pass_through(command, f"no profile key for `{command.name}`")


MAPPERS: dict[str, Callable[[ImportContext, CommandLine], None]] = {
    "install": _install,
    "upgrade": _install,
    "text": _display,
    "cmdline": _display,
    "graphical": _display,
    "skipx": _always,
    "firstboot": _firstboot,
    "url": _url,
    "cdrom": _cdrom,
    "liveimg": _liveimg,
    "nfs": _other_source,
    "harddrive": _other_source,
    "repo": _repo,
    "lang": _lang,
    "keyboard": _keyboard,
    "timezone": _timezone,
    "rootpw": _rootpw,
    "user": _user,
    "sshkey": _sshkey,
    "selinux": _selinux,
    "firewall": _firewall,
    "services": _services,
    "reboot": _ending,
    "poweroff": _ending,
    "shutdown": _ending,
    "halt": _ending,
}


def mapper_for(name: str) -> Callable[[ImportContext, CommandLine], None]:
    return MAPPERS.get(name, _generic)

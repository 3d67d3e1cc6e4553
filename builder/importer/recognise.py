"""What %post scripts of hypervisor kickstarts do, turned into keys: SELinux config edits, nested virtualization
options, .repo files, services enabled or disabled, libvirt's default network removed, a %pre CPU check.

Each recogniser evaluates the statements it knows (writes and sed edits against the file CentOS has before
%post, builder.importer.system_files) and consumes them only when the result is exactly what a key renders;
anything else stays in the script.
"""

from __future__ import annotations

import configparser
import posixpath
import re

from builder.importer.context import ImportContext, refused_url
from builder.importer.scripts import SHELLS, Scripts, StatementRef
from builder.importer.sed import SedEdit, apply_sed, sed_edit
from builder.importer.shell import Write, file_write, is_literal, words_of
from builder.importer.system_files import (
    KVM_CONF,
    KVM_CONF_PATH,
    SELINUX_CONFIG,
    SELINUX_CONFIG_LINK,
    SELINUX_CONFIG_PATH,
)
from builder.model.types import Url, UrlOrFile
from builder.vocabulary import KeyPath

_SELINUX_PATHS = (SELINUX_CONFIG_PATH, SELINUX_CONFIG_LINK)
_NESTED = re.compile(r"^options\s+(kvm_intel|kvm_amd)\s+nested=(1|Y|y)\s*$")
_MODPROBE_DIR = "/etc/modprobe.d"
_REPO_DIR = "/etc/yum.repos.d"
# .repo keys install.repos writes (builder.render.views.repo_files); a file with any other key stays in the script.
_REPO_KEYS = {"name", "baseurl", "enabled", "gpgcheck", "gpgkey", "cost", "proxy", "proxy_username", "includepkgs",
              "exclude"}
_LIBVIRT_NET = "/etc/libvirt/qemu/networks"


def _edits(scripts: Scripts, paths: tuple[str, ...] | None, prefix: str | None = None) -> list[
        tuple[StatementRef, str, object]]:
    """Writes and sed edits of `paths` (or of any file under `prefix`), in order: (ref, path, Write|SedEdit)."""
    found: list[tuple[StatementRef, str, object]] = []
    for ref in scripts.statements():
        cwd = ref.read.cwd[ref.position]
        write = file_write(ref.statement, cwd)
        if write is not None and _wanted(write.path, paths, prefix):
            found.append((ref, write.path, write))
            continue
        edit = sed_edit(ref.statement, cwd)
        if edit is not None and all(_wanted(p, paths, prefix) for p in edit.paths):
            found.extend((ref, path, edit) for path in edit.paths)
    return found


def _wanted(path: str, paths: tuple[str, ...] | None, prefix: str | None) -> bool:
    return (paths is not None and path in paths) or (prefix is not None and posixpath.dirname(path) == prefix)


def _evaluate(ops: list[tuple[StatementRef, str, object]], start: str) -> str | None:
    text = start
    for _, _, op in ops:
        if isinstance(op, Write):
            text = text + op.content if op.append else op.content
        elif isinstance(op, SedEdit):
            edited = apply_sed(op.expressions, text, op.extended)
            if edited is None:
                return None
            text = edited
    return text


def _settings(text: str) -> dict[str, str]:
    return dict(line.strip().split("=", 1) for line in text.splitlines()
                if line.strip() and not line.strip().startswith("#") and "=" in line)


def selinux(ctx: ImportContext, scripts: Scripts) -> None:
    ops = _edits(scripts, _SELINUX_PATHS)
    runtime = [ref for ref in scripts.statements() if (words_of(ref.statement.command) or [""])[0] == "setenforce"]
    for ref in runtime:
        scripts.consume(ref, [("system", "selinux")])
    if not ops:
        return
    text = _evaluate(ops, SELINUX_CONFIG)
    mine = {(ref.read.index, ref.position) for ref, _, _ in ops}
    settings = _settings(text) if text is not None else {}
    mode = settings.get("SELINUX")
    if (text is None or set(settings) != {"SELINUX", "SELINUXTYPE"} or settings["SELINUXTYPE"] != "targeted"
            or mode not in ("enforcing", "permissive", "disabled")
            or any(scripts.touched_by_others(path, mine) for path in _SELINUX_PATHS)):
        return
    command = ctx.draft.get(("system", "selinux"))
    if command is not None and command != mode:
        return  # the command and the file disagree: the edit stays, after ksbuild's file
    ctx.draft.set(("system", "selinux"), mode, ops[-1][0].location)
    for ref, _, _ in ops:
        scripts.consume(ref, [("system", "selinux")])


def nested(ctx: ImportContext, scripts: Scripts) -> None:
    ops = _edits(scripts, None, _MODPROBE_DIR)
    modules: set[str] = set()
    files = sorted({path for _, path, _ in ops})
    mine = {(ref.read.index, ref.position) for ref, _, _ in ops}
    for path in files:
        text = _evaluate([op for op in ops if op[1] == path], KVM_CONF if path == KVM_CONF_PATH else "")
        if text is None or scripts.touched_by_others(path, mine):
            return
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            match = _NESTED.match(stripped)
            if match is None:
                return  # other module options: the file stays as the script writes it
            modules.add(match[1])
    if not modules:
        ctx.draft.set(("virtualization", "nested"), False)
        return
    cpu = "auto" if modules == {"kvm_intel", "kvm_amd"} else "intel" if "kvm_intel" in modules else "amd"
    origin = ops[0][0].location
    ctx.draft.set(("virtualization", "nested"), True, origin)
    if cpu != "auto":
        ctx.draft.set(("virtualization", "cpu"), cpu, origin)
    for ref, _, _ in ops:
        scripts.consume(ref, [("virtualization", "nested"), ("virtualization", "cpu")])


def repos(ctx: ImportContext, scripts: Scripts) -> None:
    ops = _edits(scripts, None, _REPO_DIR)
    for path in sorted({path for _, path, _ in ops}):
        mine_ops = [op for op in ops if op[1] == path]
        mine = {(ref.read.index, ref.position) for ref, _, _ in mine_ops}
        text = _evaluate(mine_ops, "")
        if text is None or scripts.touched_by_others(path, mine) or not path.endswith(".repo"):
            continue
        repo = _repo_file(text, posixpath.basename(path).removesuffix(".repo"))
        if repo is None:
            continue
        keys = _merge_repo(ctx, repo, mine_ops[-1][0])
        if keys is None:
            continue
        for ref, _, _ in mine_ops:
            scripts.consume(ref, keys)


def _repo_file(text: str, stem: str) -> dict[str, str] | None:
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    sections = parser.sections()
    if sections != [stem] or set(parser[stem]) - _REPO_KEYS or "baseurl" not in parser[stem]:
        return None
    values = dict(parser[stem])
    values["id"] = stem
    return values


def _flag(value: str | None, default: bool) -> bool | None:
    if value is None:
        return default
    return {"1": True, "0": False, "yes": True, "no": False, "true": True, "false": False}.get(value.lower())


def _merge_repo(ctx: ImportContext, values: dict[str, str], ref: StatementRef) -> list[KeyPath] | None:
    repos = ctx.draft.get(("install", "repos"), [])
    enabled, gpgcheck = _flag(values.get("enabled"), True), _flag(values.get("gpgcheck"), True)
    if enabled is None or gpgcheck is None or refused_url(values["baseurl"].strip(), Url) or (
            values.get("gpgkey") and refused_url(values["gpgkey"], UrlOrFile)):
        return None  # e.g. yum's $basearch: the file stays written by the script, which yum expands
    index = next((n for n, repo in enumerate(repos) if repo["name"] == values["id"]), None)
    options: dict[str, object] = {}
    if values.get("cost"):
        if not (values["cost"].isascii() and values["cost"].isdigit()):
            return None
        options["cost"] = int(values["cost"])
    for key, field in (("proxy", "proxy"), ("proxy_username", "proxy_username")):
        if values.get(key):
            options[field] = values[key]
    for key, field in (("includepkgs", "includepkgs"), ("exclude", "excludepkgs")):
        if values.get(key):
            options[field] = values[key].replace(",", " ").split()
    if index is not None:
        line = repos[index]
        # The `repo` line and the file must agree on what both say.
        if line["baseurl"] != values["baseurl"] or any(line.get(k) not in (None, v) for k, v in options.items()):
            return None
        line.pop("file", None)  # the file is written after all
    else:
        index = ctx.draft.append(("install", "repos"), {"name": values["id"], "baseurl": values["baseurl"],
                                                        "install": False}, ref.location)
    repo = ctx.draft.get(("install", "repos"))[index]
    repo.update(options)
    if not gpgcheck:
        repo["gpgcheck"] = False
    if not enabled:
        repo["enabled"] = False
    if values.get("gpgkey"):
        repo["gpgkey"] = values["gpgkey"]
    if values.get("name", values["id"]) != values["id"]:
        ctx.ledger.dropped(ref.location, f"name={values['name']}",
                           f"ksbuild writes name={values['id']} (the repo id) in the .repo file")
    return [("install", "repos", index)]


def services(ctx: ImportContext, scripts: Scripts) -> None:
    for ref in scripts.statements():
        change = _service_change(ref)
        if change is None:
            continue
        kind, names = change
        other = "disabled" if kind == "enabled" else "enabled"
        current = list(ctx.draft.get(("system", "services", kind), []))
        opposite = ctx.draft.get(("system", "services", other), [])
        if any(name in opposite for name in names):
            continue  # the command says the opposite: the script's later change stays with the script
        if kind == "disabled" and "firewalld" in names and ctx.draft.get(("system", "firewall", "enabled"), True):
            # `firewall --enabled` (or anaconda's default) then firewalld off in %post: a profile says one or the
            # other, so the script keeps turning it off after ksbuild's sections, as the original did.
            continue
        for name in names:
            if name not in current:
                current.append(name)
        ctx.draft.set(("system", "services", kind), current, ref.location)
        scripts.consume(ref, [("system", "services", kind)])


def _service_change(ref: StatementRef) -> tuple[str, list[str]] | None:
    statement = ref.statement
    if statement.compound or not is_literal(statement.command):
        return None
    words = words_of(statement.command)
    if not words or any(w in (">", ">>", "<") for w in words):
        return None
    if words[0] == "systemctl":
        rest = [w for w in words[1:] if w not in ("-q", "--quiet", "--no-reload", "--now")]
        if len(rest) < 2 or rest[0] not in ("enable", "disable") or any(w.startswith("-") for w in rest[1:]):
            return None
        return ("enabled" if rest[0] == "enable" else "disabled"), [_unit(w) for w in rest[1:]]
    if words[0] == "chkconfig":
        rest = words[1:]
        if rest[:1] == ["--level"] and len(rest) >= 2:
            rest = rest[2:]  # runlevels are SysV's; systemd enables for the default target
        if len(rest) == 2 and rest[1] in ("on", "off") and not rest[0].startswith("-"):
            return ("enabled" if rest[1] == "on" else "disabled"), [_unit(rest[0])]
    return None


def _unit(word: str) -> str:
    return word.removesuffix(".service")


def default_network(ctx: ImportContext, scripts: Scripts) -> None:
    refs = [ref for ref in scripts.statements() if _default_network_step(ref) is not None]
    steps = {_default_network_step(ref) for ref in refs}
    if "undefine" not in steps:
        return
    ctx.draft.set(("virtualization", "default_network"), "remove", refs[0].location)
    for ref in refs:
        scripts.consume(ref, [("virtualization", "default_network")])


def _default_network_step(ref: StatementRef) -> str | None:
    statement = ref.statement
    if statement.compound:
        return None
    words = words_of(statement.command)
    if not words or not is_literal(statement.command):
        words = words if words and "*" not in statement.command and "$" not in statement.command else None
    if not words:
        return None
    if words[0] == "virsh":
        rest = list(words[1:])
        if rest[:1] == ["-c"] or rest[:1] == ["--connect"]:
            rest = rest[2:]
        rest = [w for w in rest if w not in ("-q", "--quiet") and not w.startswith(("2>", ">"))]
        if rest in (["net-destroy", "default"], ["net-autostart", "--disable", "default"],
                    ["net-autostart", "default", "--disable"]):
            return "stop"
        if rest == ["net-undefine", "default"]:
            return "undefine"
        return None
    if words[0] == "rm":
        targets = [w for w in words[1:] if not w.startswith("-")]
        known = {f"{_LIBVIRT_NET}/default.xml", f"{_LIBVIRT_NET}/autostart/default.xml"}
        if targets and all(t in known for t in targets):
            return "undefine" if f"{_LIBVIRT_NET}/default.xml" in targets else "stop"
    return None


def hardware_check(ctx: ImportContext, scripts: Scripts) -> None:
    """A %pre that only stops the install when /proc/cpuinfo has no vmx/svm is what require_hardware writes."""
    for read in scripts.read:
        script = read.script
        if script.kind != "pre" or script.interpreter not in SHELLS:
            continue
        lines = [line.strip() for line in script.body.splitlines() if line.strip() and
                 not line.strip().startswith("#")]
        text = "\n".join(lines)
        if not ("/proc/cpuinfo" in text and "vmx" in text and "svm" in text and re.search(r"\bexit\s+1\b", text)):
            continue
        allowed = re.compile(r"^(if|then|else|fi|exit \d+|set -[a-zA-Z]+( pipefail)?|msg=.*|"
                             r"(echo|printf) .*|(grep|egrep) .*|if .*(grep|egrep) .*; then|.*; then)$")
        if len(lines) > 12 or not all(allowed.match(line) for line in lines):
            continue
        ctx.draft.set(("virtualization", "require_hardware"), True)
        ctx.hardware_script = read.index
        return
    ctx.draft.set(("virtualization", "require_hardware"), False)

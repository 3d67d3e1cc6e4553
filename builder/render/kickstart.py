"""Render a Profile into kickstart text with the (possibly overridden) templates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from builder import __version__, targets
from builder.errors import BadInput
from builder.model.profile import Profile
from builder.render.context import firewall_port, install_network
from builder.render.environment import MAIN_TEMPLATE, effective_templates, make_environment, template_search_path
from builder.render.ifcfg import ifcfg_files
from builder.render.keyfile import KEYFILE_REPLACED_DIR, keyfiles
from builder.render.secrets import NO_SECRETS, Secrets
from builder.render.target_plan import (
    install_tree,
    nested_modules,
    nested_options,
    packages_install,
    packages_options,
    services_disabled,
    services_enabled,
    target_of,
)
from builder.render.views import install_repos, keyboard_view, repo_files

if TYPE_CHECKING:  # only boot-test builds have a verification plan
    from builder.render.verify_plan import VerifyPlan


@dataclass(frozen=True)
class RenderedKickstart:
    text: str
    templates: dict[str, Path]   # template name -> file that served it


def render_kickstart(
    profile: Profile,
    name: str,
    template_overrides: Sequence[Path] = (),
    *,
    verify: VerifyPlan | None = None,
    callback_url: str | None = None,
    secrets: Secrets = NO_SECRETS,
    cache: Path | None = None,
) -> RenderedKickstart:
    """Render the kickstart; `verify` adds the boot-test verification unit (boot-test builds only);
    `callback_url` adds a last %post that reports the finished install there (fleet installs); `secrets` are the
    passphrases and passwords the profile names (builder.render.secrets.resolve_secrets); compiled templates are
    kept under the cache folder `cache` (builder.render.compiled)."""
    search_path = template_search_path(tuple(template_overrides))
    env = make_environment(search_path, cache)
    target = target_of(profile)
    context = {
        "profile": profile,
        "name": name,
        "ksbuild_version": __version__,
        "target": target,
        # What anaconda writes into anaconda-ks.cfg, and what `ksbuild validate` reads to pick the handler; the
        # default target needs none (it is the validator's default too), so its kickstarts stay as they were.
        "kickstart_version": None if target.name == targets.DEFAULT_TARGET else target.pykickstart_version,
        "install_tree": install_tree(profile),
        "appstream_repo": targets.APPSTREAM_REPO,
        "packages_options": packages_options(profile),
        # The host's devices in the target's format: ifcfg files (CentOS 7, EL8) or NetworkManager keyfiles (EL9).
        "ifcfg": ifcfg_files(profile) if target.network_files == "ifcfg" else (),
        "keyfiles": keyfiles(profile) if target.network_files == "keyfile" else (),
        "keyfile_replaced_dir": KEYFILE_REPLACED_DIR,
        "packages_install": packages_install(profile),
        "services_enabled": services_enabled(profile),
        "services_disabled": services_disabled(profile),
        "install_network": install_network(profile),
        "nested_modules": nested_modules(profile),
        # The modprobe options that change what the target's kernel does by itself (none on EL9 for nested: true).
        "nested_options": nested_options(profile),
        "firewall_ports": [firewall_port(p) for p in profile.system.firewall.ports],
        "verify": verify,
        "callback_url": callback_url,
        "secrets": secrets,
        "keyboard": keyboard_view(profile),
        "install_repos": install_repos(profile, secrets),
        "repo_files": repo_files(profile, secrets),
    }
    try:
        text = env.get_template(MAIN_TEMPLATE).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise BadInput(f"{exc.filename or exc.name}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise BadInput(f"template error: {exc.message} (a --templates override uses a name ksbuild does not define)")\
            from None
    except jinja2.TemplateNotFound as exc:
        raise BadInput(f"template not found: {exc.name}") from None
    return RenderedKickstart(text=_tidy(text), templates=effective_templates(search_path))


def _tidy(text: str) -> str:
    """At most one blank line in a row and a single trailing newline, whatever the snippets left."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip() == "" and (not lines or lines[-1] == ""):
            continue
        lines.append(line.rstrip())
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"

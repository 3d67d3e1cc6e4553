"""`ksbuild import`: an existing kickstart becomes a profile.

    import_kickstart(text, source) -> Imported        builder.importer.run: parse, map, check
    profile_text(imported, ...) -> str                 the YAML (with --extends: only what differs from the base)

Modules, one concept each: `context` (what the mappers share), `ledger` (the draft profile and the report),
`commands`, `storage`, `packages`, `network` (+ `ifcfg`), `scripts` (+ `shell`, `recognise`, `system_files`),
`yaml_out`, and `compare` (the round trip: a rendered profile against the kickstart it came from).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from builder import __version__
from builder.errors import KsbuildError
from builder.importer.ledger import ImportReport
from builder.importer.run import Imported, import_kickstart
from builder.importer.yaml_out import differences, ordered, to_yaml

__all__ = ["Imported", "ImportedProfile", "import_kickstart", "profile_text"]


@dataclass(frozen=True)
class ImportedProfile:
    text: str
    data: dict[str, Any]
    report: ImportReport


def profile_text(imported: Imported, kickstart_text: str, *, extends: str | None = None,
                 base: Any = None) -> ImportedProfile:
    """The profile file for `imported`. With `extends` (the name or relative path to write) and `base` (that
    profile, modelled), only what differs from the base is written, so that merging it over the base gives the
    imported profile."""
    from builder.model.profile import Profile

    data = ordered(imported.data, Profile)
    if extends is not None:
        mine = Profile.model_validate(imported.data)
        child = differences(mine.model_dump(mode="json"), base.model_dump(mode="json"), data)
        data = {"extends": extends, **ordered(child, Profile)}
        _same_when_merged(base, child, mine)
    report = imported.report
    digest = hashlib.sha256(kickstart_text.encode()).hexdigest()[:16]
    header = [
        f"Imported by ksbuild {__version__} from {report.source} (sha256 {digest}...)",
        f"{report.summary()}; the comments name the kickstart line of each value.",
        "Review it, then: ksbuild render <this file>",
    ]
    return ImportedProfile(to_yaml(data, imported.origins, report.source, header), data, report)


def _same_when_merged(base: Any, child: dict[str, Any], mine: Any) -> None:
    """The merge rule applied to the base and the child must give the imported profile back."""
    from builder.load.merge import Layer, merge_layers
    from builder.model.profile import Profile

    merged = merge_layers(Layer(base.model_dump(mode="json"), {}), Layer(child, {}))
    if Profile.model_validate(merged.data) != mine:
        raise KsbuildError("internal error: the --extends profile does not merge back into the imported one; "
                           "import without --extends and please report it")


"""The load stage: YAML profile files (with line marks, ``extends`` and ``--set``) into located plain data."""

from builder.load.merge import Layer, merge_layers
from builder.load.overrides import parse_override
from builder.load.profile_loader import LoadedProfile, load_profile
from builder.load.show import render_provenance
from builder.load.yaml_source import MAX_FILE_BYTES
from builder.vocabulary import KeyPath, format_key

__all__ = [
    "MAX_FILE_BYTES",
    "KeyPath",
    "Layer",
    "LoadedProfile",
    "format_key",
    "load_profile",
    "merge_layers",
    "parse_override",
    "render_provenance",
]

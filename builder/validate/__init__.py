"""Kickstart validation. pykickstart is imported without `requests` (see pykickstart_offline): this package's
first import does it, so that no import order elsewhere can undo it."""

from builder.validate import pykickstart_offline  # noqa: F401

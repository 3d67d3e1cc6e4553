"""Import pykickstart without `requests`: it is 83 ms of the 95 ms pykickstart takes to import here.

pykickstart.load imports requests only to fetch kickstarts given as URLs. ksbuild never asks it to: the parser
runs with followIncludes=False and ksbuild resolves %include itself (builder.validate.includes) without the network.
So pykickstart.load is imported with a stand-in `requests` whose `get` fails the way a failed download does
(pykickstart then raises its own KickstartError), and the stand-in is removed from sys.modules right after: any
other code that imports requests later gets the real one. Importing this module before pykickstart is enough;
when requests or pykickstart.load is already loaded, nothing changes.
"""

from __future__ import annotations

import sys
import types


class _NotFetched(Exception):
    """What the stand-in raises: pykickstart.load turns it into "Error accessing URL"."""


class _SSLNotFetched(_NotFetched):
    pass


def _get(location: str, *args: object, **kwargs: object) -> None:
    raise _NotFetched(f"ksbuild does not fetch kickstarts over the network ({location})")


def _load_without_requests() -> None:
    if "pykickstart.load" in sys.modules or "requests" in sys.modules:
        return
    requests = types.ModuleType("requests")
    exceptions = types.ModuleType("requests.exceptions")
    exceptions.SSLError = _SSLNotFetched  # type: ignore[attr-defined]
    exceptions.RequestException = _NotFetched  # type: ignore[attr-defined]
    requests.exceptions = exceptions  # type: ignore[attr-defined]
    requests.get = _get  # type: ignore[attr-defined]
    sys.modules["requests"] = requests
    sys.modules["requests.exceptions"] = exceptions
    try:
        import pykickstart.load  # noqa: F401 - keeps the stand-in as its `requests`
    finally:
        for name, module in (("requests", requests), ("requests.exceptions", exceptions)):
            if sys.modules.get(name) is module:
                del sys.modules[name]


_load_without_requests()

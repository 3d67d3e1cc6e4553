"""ksbuild: CentOS 7 KVM hypervisor kickstarts from YAML profiles."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ksbuild")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

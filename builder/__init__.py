"""ksbuild: CentOS 7 KVM hypervisor kickstarts from YAML profiles."""

# The single source of the version (pyproject reads it); importlib.metadata would cost ~60 ms at every start.
__version__ = "0.1.0"

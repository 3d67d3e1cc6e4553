"""Files a CentOS 7 host has before a kickstart's %post runs, that %post scripts commonly edit in place with sed:
the import evaluates such an edit against them, and the round-trip sandbox starts from them.

The contents are written here in ksbuild's words; what matters to an edit is the setting lines, which are as
CentOS 7 ships them: `SELINUX=enforcing` / `SELINUXTYPE=targeted` in /etc/selinux/config (selinux-policy), and
the commented `#options kvm_intel nested=1` / `#options kvm_amd nested=1` lines of /etc/modprobe.d/kvm.conf
(qemu-kvm's kvm.conf, which asks the administrator to uncomment the line for the host's CPU).
"""

from __future__ import annotations

SELINUX_CONFIG_PATH = "/etc/selinux/config"
# initscripts links /etc/sysconfig/selinux to /etc/selinux/config; sed --follow-symlinks edits the target.
SELINUX_CONFIG_LINK = "/etc/sysconfig/selinux"
SELINUX_CONFIG = """\
# SELinux mode of this host: enforcing, permissive or disabled.
SELINUX=enforcing
# The policy: targeted (the default), minimum or mls.
SELINUXTYPE=targeted
"""

KVM_CONF_PATH = "/etc/modprobe.d/kvm.conf"
KVM_CONF = """\
# Nested virtualization for KVM guests. `modprobe kvm_intel nested=1` lasts until the module is reloaded;
# uncomment the line for this host's CPU to keep it.
#
# Intel (VT-x)
#options kvm_intel nested=1
#
# AMD (AMD-V)
#options kvm_amd nested=1
"""

# Path -> content of every file above, for a sandbox root.
SYSTEM_FILES: dict[str, str] = {SELINUX_CONFIG_PATH: SELINUX_CONFIG, KVM_CONF_PATH: KVM_CONF}

"""The install contract: what a rendered kickstart prints and leaves behind, and what the boot test reads back.

Both sides take it from here: the templates receive `TEMPLATE_VALUES` as the Jinja global `contract`, and the parsers
(boot/verdict.py, boot/report.py, the pipeline's finding locator, the semantic checks) import the patterns.
tests/test_contract.py renders a kickstart, runs its lines and parses them back.

Console lines of an install:

    KSBUILD-STATUS: script-failed name=<section> rc=<exit code> line=<line or empty>
    KSBUILD-LOG: <one line of the failed section's own log>          (its last 40 lines)
    KSBUILD-STATUS: install-complete profile=<name>                  (the last section, only if all succeeded)

and of the verification boot (the grammar boot/report.py parses):

    KSBUILD-VERIFY-BEGIN profile=<name>
    KSBUILD-CHECK|<check-name>|<pass|fail|skip>|<detail, free text, may be empty>
    KSBUILD-VERIFY-END count=<number of CHECK lines>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

# Every console line ksbuild's own scripts print starts with this; the judges never read one as failure
# evidence of the generic kind (a check named "error" is not an error).
PREFIX = "KSBUILD-"

# -- the install's end ----------------------------------------------------------------------------------------

SUCCESS_MARKER = "KSBUILD-STATUS: install-complete"
INSTALLED_FILE = "/etc/ksbuild/installed"  # first line "profile=<name>", printed after SUCCESS_MARKER
SUCCESS_LINE = re.compile(re.escape(SUCCESS_MARKER) + r" profile=(?P<profile>\S+)")

FAILURE_MARKER = "KSBUILD-STATUS: script-failed"
FAILURE_PRINTF = r"%s name=%s rc=%s line=%s\n"  # printf format: marker, section name, exit code, line
FAILURE_LINE = re.compile(re.escape(FAILURE_MARKER) + r" name=(?P<name>\S+) rc=(?P<rc>\d+) line=(?P<line>\d*)")
SCRIPT_LOG_PREFIX = "KSBUILD-LOG:"  # "KSBUILD-LOG: <line>": the failed section's log, after its failure line

# -- script sections ------------------------------------------------------------------------------------------

SCRIPT_HEADER_FORMAT = "# ksbuild {phase} script: {name}"  # the first body line of every section ksbuild writes
SCRIPT_HEADER = re.compile(r"^# ksbuild (?P<phase>pre|post) script: (?P<name>\S+)$", re.MULTILINE)

# Section names ksbuild's own templates use: a user script with one of these would share its log file.
RESERVED_SCRIPT_NAMES = frozenset({
    "hardware-virt", "repos", "selinux", "nested-virt", "network", "libvirt-network", "storage-pool", "verify",
    "seal", "complete", "callback",
})

# -- the verification boot ------------------------------------------------------------------------------------

VERIFY_SCRIPT = "/usr/local/sbin/ksbuild-verify"
VERIFY_UNIT = "ksbuild-verify.service"
SEAL_SCRIPT = "/usr/local/sbin/ksbuild-seal"
# Boot tests only: udev rules that give the verification VM's NICs the profile's names, by MAC, in the installed
# system's own udev (a host-only initramfs has no dracut network module, so `ifname=` would do nothing there).
# The verification removes the file once every check passed: an exported image names its NICs as any host does.
TEST_NIC_RULES = "/etc/udev/rules.d/70-ksbuild-boot-test-nics.rules"
# Lines the seal removes from ifcfg files, so clones do not carry this machine's identity (the seal script
# removes them; the verification boot of a sealed image expects the files without them).
SEALED_IFCFG_KEYS = ("HWADDR", "UUID")
# The same for EL9's NetworkManager keyfiles (ksbuild writes no uuid=, but NetworkManager may add one).
SEALED_KEYFILE_KEYS = ("mac-address", "uuid")

REPORT_BEGIN = "KSBUILD-VERIFY-BEGIN"
REPORT_CHECK = "KSBUILD-CHECK|"
REPORT_END = "KSBUILD-VERIFY-END"
REPORT_BEGIN_PRINTF = r"KSBUILD-VERIFY-BEGIN profile=%s\n"
REPORT_CHECK_PRINTF = r"KSBUILD-CHECK|%s|%s|%s\n"  # name, status, detail
REPORT_END_PRINTF = r"KSBUILD-VERIFY-END count=%s\n"
REPORT_BEGIN_LINE = re.compile(re.escape(REPORT_BEGIN) + r"(?: profile=(?P<profile>\S+))?")
REPORT_END_LINE = re.compile(re.escape(REPORT_END) + r"(?: count=(?P<count>\d+))?")
# A CHECK line's result; "info" is a failure the boot test downgrades (no hardware virtualization under TCG).
ReportStatus = Literal["pass", "fail", "skip", "info"]
REPORT_STATUSES: tuple[ReportStatus, ...] = get_args(ReportStatus)


@dataclass(frozen=True)
class TemplateValues:
    """The contract as the templates see it (`{{ contract.failure_printf }}`)."""

    prefix: str = PREFIX
    success_marker: str = SUCCESS_MARKER
    installed_file: str = INSTALLED_FILE
    failure_marker: str = FAILURE_MARKER
    failure_printf: str = FAILURE_PRINTF
    script_log_prefix: str = SCRIPT_LOG_PREFIX
    verify_script: str = VERIFY_SCRIPT
    verify_unit: str = VERIFY_UNIT
    seal_script: str = SEAL_SCRIPT
    test_nic_rules: str = TEST_NIC_RULES
    sealed_ifcfg_keys: tuple[str, ...] = SEALED_IFCFG_KEYS
    sealed_keyfile_keys: tuple[str, ...] = SEALED_KEYFILE_KEYS
    report_begin_printf: str = REPORT_BEGIN_PRINTF
    report_check_printf: str = REPORT_CHECK_PRINTF
    report_end_printf: str = REPORT_END_PRINTF

    def script_header(self, phase: str, name: str) -> str:
        return SCRIPT_HEADER_FORMAT.format(phase=phase, name=name)


TEMPLATE_VALUES = TemplateValues()


def template_globals() -> dict[str, object]:
    """What every template environment gets: the contract, as `contract.*` (one name for each value)."""
    return {"contract": TEMPLATE_VALUES}

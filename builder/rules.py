"""The rule catalogue: every finding `ksbuild validate` reports on a kickstart carries one of these ids.

Families: KS0xx inputs and profiles, KS1xx kickstart syntax and structure (pykickstart, options, %include),
KS2xx storage layout (the same checks for profiles and kickstarts), KS3xx secrets, KS4xx %pre/%post scripts,
KS5xx ksbuild's unattended-install policy. Ids are stable: a rule that goes away leaves its id unused.

Each rule has two default severities: `kickstart` for a hand-written kickstart (errors only for what breaks an
install or leaks a secret) and `rendered` for a kickstart ksbuild rendered from a profile (all policy is an error).
`--strict` turns warnings into errors. This module imports nothing heavy: `ksbuild rules` and the linter read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from builder.errors import Finding, Location, Severity

# "kickstart": written by hand (or by Cobbler/Foreman); "rendered": ksbuild rendered it from a profile.
Mode = Literal["kickstart", "rendered"]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kickstart: Severity
    rendered: Severity
    why: str
    explanation: str
    example: str
    fix: str

    def severity(self, mode: Mode, *, strict: bool = False) -> Severity:
        severity = self.kickstart if mode == "kickstart" else self.rendered
        return "error" if strict and severity == "warning" else severity


CATALOGUE: tuple[Rule, ...] = (
    # -- KS0xx: inputs and profiles -------------------------------------------------------------------------------
    Rule("KS001", "unreadable-input", "error", "error",
         "The file cannot be read: missing, not UTF-8, too large, or a profile that does not load.",
         "ksbuild reads kickstarts as UTF-8 text of at most 4 MiB. Profiles must load and match the schema "
         "before any kickstart rule can run.",
         "ksbuild validate hosts/missing.cfg",
         "Give an existing UTF-8 file; for a profile, fix the schema error the message names."),
    Rule("KS002", "profile-check", "error", "error",
         "A profile's own check (network, services, users, scripts, repos) failed.",
         "Profiles are checked before they are rendered; these checks speak the profile's language and point "
         "at the key. A few of them are warnings (the message says so); profiles are always strict.",
         "network.bridges[0].ipv4.gateway: gateway 10.9.9.9 is outside 192.168.80.0/24",
         "Change the profile key the message names."),
    # -- KS1xx: syntax and structure ------------------------------------------------------------------------------
    Rule("KS101", "parse-error", "error", "error",
         "pykickstart rejects the line: anaconda would stop with the same error.",
         "The kickstart is parsed with pykickstart for the target's syntax (RHEL7 plus `sshkey`, RHEL8 or RHEL9, "
         "from `#version=` or `--target`), the parser "
         "anaconda itself uses. An unknown command, an unknown option, a bad value, a section without %end or "
         "an unbalanced quote stops the install before anything is written.",
         "network --device=eth0 --bridge-slaves=eth1   # the option is --bridgeslaves",
         "Correct the command as the message says (see the kickstart documentation of that command)."),
    Rule("KS102", "parse-warning", "warning", "error",
         "pykickstart warns: anaconda will not do exactly what the line says.",
         "A parse warning is something anaconda accepts but reads differently from what was written, such as two "
         "`network` lines for one device (the second replaces the first). ksvalidator turns these into errors; "
         "ksbuild reports them as warnings on hand-written kickstarts and as errors on rendered ones.",
         "network --device=eth0 --bootproto=dhcp\nnetwork --device=eth0 --bootproto=static --ip=192.0.2.5 ...",
         "Keep one line per device (or per item) with every option on it."),
    Rule("KS103", "deprecated", "warning", "warning",
         "A deprecated command or option: anaconda ignores it.",
         "pykickstart keeps deprecated keywords so that old files still parse, but anaconda does nothing with "
         "them, so whatever they were meant to do does not happen.",
         "install          # deprecated since RHEL 7: the install source alone decides",
         "Remove the keyword, or use what replaced it (the message names it when pykickstart does)."),
    Rule("KS104", "comment-cuts-value", "error", "error",
         "An unquoted '#' starts a comment and cuts a value short.",
         "anaconda splits kickstart lines like a shell, so `#` anywhere outside quotes starts a comment. A "
         "password or a URL containing `#` silently loses the rest of the line.",
         "rootpw --iscrypted $6$salt#1$...   # the hash ends at 'salt'",
         "Quote the value: rootpw --iscrypted '$6$...'."),
    Rule("KS105", "repeated-option", "warning", "error",
         "A single-valued option is given twice on one line: anaconda keeps only the last.",
         "Options such as `network --nameserver` or `part --size` take one value; repeating one is not "
         "a list, the last value silently wins. Options that do take several values (`--nameserver=a,b`) "
         "want them comma-separated in one option.",
         "network --device=br0 --nameserver=192.0.2.53 --nameserver=192.0.2.54",
         "Give the option once: --nameserver=192.0.2.53,192.0.2.54."),
    Rule("KS106", "repeated-command", "warning", "error",
         "A command that is set once is given twice: the last one wins.",
         "Commands like `rootpw`, `bootloader`, `timezone` or `lang` hold one setting; pykickstart accepts a "
         "second one and anaconda uses only that, so the first line does nothing.",
         "rootpw --iscrypted $6$...\nrootpw --iscrypted $6$...",
         "Keep one line, with every option on it."),
    Rule("KS107", "unknown-version-line", "info", "info",
         "The `#version=` line names a syntax ksbuild does not validate against: it uses RHEL7's.",
         "`#version=RHEL8` (what anaconda writes at the top of anaconda-ks.cfg) or `ksbuild validate --target el9` "
         "picks the pykickstart handler of that target: RHEL7 (CentOS 7, the default), RHEL8 or RHEL9. Another "
         "version (a Fedora one, DEVEL) is not a ksbuild target, so the file is checked as a CentOS 7 kickstart.",
         "#version=F38",
         "Give `--target centos7|el8|el9` (or an alias such as rocky9), or write #version=RHEL7/RHEL8/RHEL9."),
    Rule("KS110", "include-at-install-time", "info", "info",
         "An %include names a file that exists only at install time (written by %pre, or a URL).",
         "A %pre script often writes partitioning or network commands to /tmp and the kickstart %includes them. "
         "ksbuild cannot see that file, so commands it may provide are not reported missing; the finding names "
         "the %pre that decides them and which checks were left to it.",
         "%include /tmp/part-include\n%pre\necho 'part / --size=1 --grow' > /tmp/part-include\n%end",
         "Nothing to fix. Test the %pre itself, e.g. with a boot test."),
    Rule("KS111", "include-not-found", "warning", "error",
         "An %include names a file that is neither next to the kickstart nor written by a %pre.",
         "anaconda stops when an included file does not exist. A relative path is looked up next to the "
         "kickstart; an absolute one must be written by a %pre script (ksbuild looks for the path in their "
         "bodies) or exist on the installer's file system, which ksbuild cannot see.",
         "%include /tmp/disks.ks   # no %pre mentions /tmp/disks.ks",
         "Fix the path, or make the %pre that writes the file mention it literally."),
    Rule("KS112", "include-not-read", "warning", "error",
         "A local %include was not read: outside the allowed folder, too deep, too large or a loop.",
         "Local includes are read and checked in place, within limits: the file must be inside the kickstart's "
         "folder (or `include-root` from the configuration), at most 8 includes deep, at most 4 MiB, and not "
         "include itself.",
         "%include ../../etc/common.ks",
         "Move the file next to the kickstart, or set include-root in [tool.ksbuild]."),
    # -- KS2xx: storage -------------------------------------------------------------------------------------------
    Rule("KS201", "raid-members-same-disk", "error", "error",
         "Two members of one RAID are on the same disk: one disk failure loses the array.",
         "A RAID1 whose two legs are partitions of one disk protects against nothing, and blivet may refuse it. "
         "Each member partition needs its own disk (`--ondisk`).",
         "part raid.01 --size=1024 --ondisk=sda\npart raid.02 --size=1024 --ondisk=sda\n"
         "raid /boot --level=1 --device=md0 raid.01 raid.02",
         "Put the second member on another disk: part raid.02 --size=1024 --ondisk=sdb."),
    Rule("KS202", "raid-too-few-members", "error", "error",
         "A RAID has fewer active members than its level needs.",
         "blivet needs at least 2 active members for RAID0 and RAID1, 3 for RAID5, 4 for RAID6 and RAID10; "
         "spares do not count.",
         "raid pv.01 --level=5 --device=md1 raid.11 raid.12",
         "Add members, or choose a level the member count supports."),
    Rule("KS203", "disk-not-allowed", "error", "error",
         "A partition or RAID member is on a disk the installer may not use.",
         "`ignoredisk --only-use` (a profile's storage.disks) lists the disks the installer may touch; a "
         "partition on any other disk makes anaconda stop with a storage error.",
         "ignoredisk --only-use=sda\npart /srv --size=1024 --ondisk=sdb",
         "Add the disk to --only-use, or move the partition."),
    Rule("KS204", "mount-point-twice", "error", "error",
         "Two file systems are mounted at the same place (for example two /boot).",
         "Each mount point, /boot included, can be used once; anaconda refuses the layout.",
         "part /boot --size=1024\nlogvol /boot --vgname=vg --name=boot --size=512",
         "Remove one, or give it another mount point."),
    Rule("KS205", "no-root-filesystem", "error", "error",
         "The layout mounts nothing at /.",
         "A manual layout (part/raid/logvol) needs a file system at /; anaconda refuses one without.",
         "part /boot --size=1024\npart /var --size=1 --grow",
         "Mount one partition, RAID device or logical volume at /."),
    Rule("KS206", "boot-not-bootable", "error", "error",
         "/boot (or / without /boot) is where EL7's GRUB2 cannot read it.",
         "EL7's GRUB2 reads /boot from a partition or an md RAID1 with xfs or ext2/3/4, not from LVM, other "
         "RAID levels or a LUKS-encrypted device (anaconda refuses an encrypted /boot).",
         "logvol /boot --vgname=vg_sys --name=boot --size=1024",
         "Make /boot a partition (or a RAID1 of partitions) with xfs or ext4."),
    Rule("KS207", "firmware-boot-partition", "error", "error",
         "The BIOS boot or EFI system partition does not match the boot disk or disk label.",
         "With BIOS and a GPT label GRUB2 needs a 1 MiB biosboot partition on each disk it is installed to: the "
         "boot drive, and every disk of a RAID1 /boot (anaconda installs GRUB2 on each mirror disk); biosboot "
         "needs GPT (not msdos); UEFI needs the EFI system partition (/boot/efi, fstype efi) on the boot disk.",
         "clearpart --all --disklabel=msdos\npart biosboot --fstype=biosboot --size=1",
         "Use --disklabel=gpt and put biosboot / the EFI partition on the bootloader's --boot-drive."),
    Rule("KS208", "does-not-fit", "error", "error",
         "The sizes cannot fit: partitions larger than the disk, logical volumes larger than their group.",
         "Fixed sizes add up: a disk holds its partitions (plus 1 MiB alignment), a volume group gives the sum "
         "of its physical volumes minus LVM metadata, --percent values of one group add up to at most 100.",
         "part pv.01 --size=10240\nvolgroup vg pv.01\nlogvol / --vgname=vg --name=root --size=20480",
         "Shrink the volumes, grow the physical volumes, or use --grow / --percent."),
    Rule("KS209", "unknown-reference", "error", "error",
         "A name refers to nothing: a physical volume, RAID member, volume group or thin pool that is not defined.",
         "volgroup lists partitions named pv.*, raid lists partitions named raid.*, logvol names its volume "
         "group and thin pool; each must be defined in the kickstart, and a volume group needs at least one "
         "physical volume.",
         "volgroup vg_sys pv.01 pv.02   # no part pv.02",
         "Define the missing item, or fix the name."),
    Rule("KS210", "unused-volume", "warning", "error",
         "A physical volume or RAID member partition is used by no volume group or RAID.",
         "anaconda creates the partition anyway and the space is lost; usually a name is misspelt.",
         "part pv.02 --size=1 --grow --ondisk=sdb   # no volgroup lists pv.02",
         "Add it to the volume group or RAID, or remove it."),
    Rule("KS211", "duplicate-name", "error", "error",
         "Two volume groups, logical volumes, md devices or disks have the same name.",
         "Names identify storage devices; anaconda refuses a layout that defines one twice.",
         "raid / --level=1 --device=md0 raid.01 raid.02\nraid swap --level=1 --device=md0 raid.03 raid.04",
         "Rename one of them."),
    Rule("KS212", "swap-filesystem", "error", "error",
         "swap is mounted as a file system, or a swap file system is mounted elsewhere.",
         "A swap area is `part swap` / `logvol swap` (file system swap); a file system of type swap at another "
         "mount point cannot be mounted.",
         "logvol /swap --vgname=vg --name=swap --fstype=swap --size=2048",
         "Use the mount point swap for swap, and a real file system elsewhere."),
    Rule("KS213", "raid-members-unplaced", "warning", "error",
         "RAID member partitions without --ondisk: the installer chooses their disks.",
         "Without --ondisk anaconda places member partitions wherever they fit, possibly two on one disk, which "
         "silently removes the redundancy the RAID is for.",
         "part raid.01 --size=1024\npart raid.02 --size=1024",
         "Give each member its own --ondisk."),
    # -- KS3xx: secrets -------------------------------------------------------------------------------------------
    Rule("KS301", "plaintext-rootpw", "error", "error",
         "The root password is in plaintext in the kickstart.",
         "Kickstarts are served over HTTP/TFTP and copied to /root/anaconda-ks.cfg on the installed host; a "
         "plaintext password is readable by anyone who sees either.",
         "rootpw --plaintext changeme",
         "rootpw --iscrypted '$6$...' (make it with `openssl passwd -6`), or rootpw --lock."),
    Rule("KS302", "plaintext-user-password", "error", "error",
         "A user's password is in plaintext in the kickstart.",
         "Same exposure as a plaintext root password.",
         "user --name=ops --password=changeme",
         "user --name=ops --iscrypted --password='$6$...', or an sshkey and no password."),
    Rule("KS303", "plaintext-luks-passphrase", "error", "error",
         "A LUKS passphrase is written in the kickstart.",
         "`--encrypted --passphrase=...` puts the disk encryption key in a file that is served over the network "
         "and kept on the installed host, which defeats the encryption.",
         "part / --size=1 --grow --encrypted --passphrase=secret",
         "Leave out --passphrase (anaconda asks on the console), or use --escrowcert / network-bound "
         "encryption (Clevis/Tang) set up after the install."),
    Rule("KS304", "plaintext-bootloader-password", "error", "error",
         "bootloader --password without --iscrypted: a plaintext GRUB password.",
         "Without --iscrypted the value is the password itself, in plaintext; a crypt(3) hash given this way "
         "becomes the literal password.",
         "bootloader --location=mbr --password=$6$abc...",
         "bootloader --iscrypted --password=grub.pbkdf2.sha512.10000... (from grub2-mkpasswd-pbkdf2)."),
    Rule("KS305", "not-a-hash", "error", "error",
         "An --iscrypted value is not a hash of the expected kind: nobody could log in.",
         "rootpw/user --iscrypted take crypt(3) output ($6$salt$hash); bootloader --iscrypted takes a GRUB2 "
         "PBKDF2 hash (grub.pbkdf2.sha512...). Anything else is stored as is and matches no password.",
         "rootpw --iscrypted changeme",
         "Give a real hash: `openssl passwd -6` for passwords, grub2-mkpasswd-pbkdf2 for GRUB."),
    Rule("KS306", "weak-hash", "warning", "warning",
         "A password hash uses MD5 ($1$) or SHA-256 ($5$).",
         "MD5 crypt is fast to brute-force; SHA-512 crypt ($6$) is the EL7 default and what `authconfig "
         "--passalgo=sha512` expects.",
         "rootpw --iscrypted $1$salt$...",
         "Hash with `openssl passwd -6`."),
    # -- KS4xx: scripts -------------------------------------------------------------------------------------------
    Rule("KS401", "bash-syntax", "error", "error",
         "`bash -n` rejects a %pre/%post script: it would fail at install time.",
         "Shell scripts (interpreter sh or bash, the default) are read by `bash -n` (with --posix for /bin/sh), "
         "the shell that runs them on EL7. A syntax error means the script does not run at all.",
         "%post\nif [ -f /etc/x ]; then\n  echo x\n%end",
         "Fix the syntax at the line given (here: the missing `fi`)."),
    Rule("KS402", "shellcheck-error", "error", "error",
         "shellcheck reports an error-level problem in a script.",
         "Error-level shellcheck findings are constructs that do not do what they look like (for example a "
         "here-document that never ends). The message names the SC code; `# shellcheck disable=SCxxxx` on the "
         "line before silences one line, as with shellcheck itself.",
         "%post\ncat <<EOF > /etc/motd\nhello\n EOF\n%end",
         "Fix the line, or silence that one SC code with a shellcheck directive if it is intended."),
    Rule("KS403", "shellcheck-warning", "warning", "warning",
         "shellcheck reports a warning-level problem in a script.",
         "Warnings are likely bugs (an unset variable, `cd` without a check). Variables set by a file the script "
         "sources (when ksbuild can read it) and anaconda's environment ($ANA_INSTALL_PATH) are not reported. "
         "Info and style notes are never reported. `--ignore SC2154` drops one SC code everywhere.",
         "%post\ncd /opt/app\n./install.sh\n%end",
         "cd /opt/app || exit 1 — or silence the code with # shellcheck disable=SC2164."),
    Rule("KS404", "erroronfail-without-set-e", "warning", "error",
         "An --erroronfail script does not start with `set -e`: only its last command's failure is seen.",
         "--erroronfail stops the install when the script exits non-zero. Without `set -e` first, a failing "
         "command in the middle is ignored and the script's status is the last command's. A body of one command "
         "does not need it.",
         "%post --erroronfail\nyum -y install foo\nsystemctl enable foo\n%end",
         "Start the body with set -e (or set -euo pipefail)."),
    Rule("KS405", "sourced-file-unknown", "info", "info",
         "A script sources a file ksbuild cannot read: its variables are not reported unset.",
         "When a script sources a file written by an earlier script (a heredoc or echo ksbuild can read), the "
         "variables it assigns count as set. When the file cannot be read (downloaded, written in a loop), "
         "shellcheck's 'referenced but not assigned' (SC2154) is not reported for that script, and this note "
         "says so.",
         "%pre\n. /tmp/site-vars   # fetched with curl earlier\necho \"$site\"\n%end",
         "Nothing to fix; write the variables file with a heredoc in an earlier %pre to have them checked."),
    # -- KS5xx: unattended-install policy -------------------------------------------------------------------------
    Rule("KS501", "no-reboot", "warning", "error",
         "The install ends with halt (the default): the machine waits for a key press.",
         "Without reboot or poweroff, anaconda halts at the end and waits; an unattended install and a boot test "
         "never finish.",
         "halt",
         "Add reboot (or poweroff)."),
    Rule("KS502", "graphical-install", "warning", "error",
         "A graphical install (the default) can stop and wait for a person.",
         "With `graphical`, or without text/cmdline, any missing answer opens a screen and waits. text still "
         "asks; cmdline fails instead, which suits unattended installs best.",
         "graphical",
         "Add text or cmdline."),
    Rule("KS503", "no-rootpw", "warning", "error",
         "No rootpw: anaconda stops and asks for a root password.",
         "An unattended install needs every answer in the kickstart.",
         "(no rootpw line)",
         "rootpw --iscrypted '$6$...', or rootpw --lock with a user and sshkey."),
    Rule("KS504", "no-install-source", "warning", "error",
         "No installation source in the kickstart.",
         "Without url, nfs, cdrom, harddrive or liveimg, the source comes from the boot options (inst.repo=) or "
         "the installer asks. A kickstart that names its source installs the same way from any boot medium.",
         "(no url line)",
         "url --url=http://mirror/centos/7/os/x86_64 (or keep inst.repo= on the kernel command line)."),
    Rule("KS505", "two-install-sources", "warning", "error",
         "Two installation sources: anaconda uses only one of them.",
         "pykickstart accepts url and cdrom together; anaconda picks one, so the other line is misleading.",
         "url --url=http://mirror/os\ncdrom",
         "Keep one source."),
    Rule("KS506", "no-storage", "warning", "error",
         "No partitioning at all (autopart, part/raid/logvol, or an %include that may provide it).",
         "Without storage commands anaconda asks where to install.",
         "(no autopart and no part lines)",
         "Add autopart, or a manual layout."),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in CATALOGUE}
FAMILIES: dict[str, str] = {
    "KS0": "inputs and profiles",
    "KS1": "kickstart syntax and structure",
    "KS2": "storage layout",
    "KS3": "secrets",
    "KS4": "%pre/%post scripts",
    "KS5": "unattended-install policy",
}


def rule(rule_id: str) -> Rule:
    """The rule with this id; KeyError for an unknown id (a bug in the check that named it)."""
    return RULES[rule_id]


def rule_finding(check: str, rule_id: str, location: Location | None, message: str) -> Finding:
    """A finding of rule `rule_id` at `location`, at the rule's severity for a hand-written kickstart; the linter
    gives each finding its mode's severity once the mode is known (builder.validate.pipeline.apply_settings)."""
    return Finding(check, message, location, severity=RULES[rule_id].kickstart,
                   rendered_line=location.line if location is not None else None, rule=rule_id)


def matching(prefix: str) -> list[Rule]:
    """Rules whose id starts with `prefix` (case-insensitive): `KS2` is the storage family, `ALL` every rule."""
    wanted = prefix.strip().upper()
    if wanted == "ALL":
        return list(CATALOGUE)
    return [rule for rule in CATALOGUE if rule.id.startswith(wanted)]

# shellcheck shell=sh
# Which anaconda the test installer stands in for. build.py writes the release into the image, as a real
# installer image belongs to its release: 7 is anaconda 21.48 (CentOS 7), 8 anaconda 33.16 (EL8), 9 anaconda 34.25
# (EL9). Everything that differs between them is here, each line with where its wording comes from
# (docs/targets.md §2, from anaconda's source for those branches and public console captures). Where the
# research could not determine a line for 8 or 9 ([N] there), the persona prints 7's and says so below; ksbuild's
# verdict does not depend on those lines.

PERSONA=$(cat /usr/lib/ksbuild-installer/persona 2>/dev/null || echo 7)
case $PERSONA in 7 | 8 | 9) ;; *) PERSONA=7 ;; esac

# inst_arg NAME [OLD...]: anaconda's boot option inst.NAME=; before EL9 also the same option without the prefix
# (and older names). anaconda 34 ignores options without inst. (Fedora 34 change, docs/targets.md §5).
inst_arg() {
    name=$1
    shift
    if [ "$PERSONA" = 9 ]; then
        getarg "inst.$name"
    else
        getarg "inst.$name" "$name" "$@"
    fi
}

# The launcher's lines (the `anaconda` script, the same code on every release): EL7 and EL9 console captures; no
# EL8 capture was found, so 8 prints 9's lines [N].
say_banner() {
    case $PERSONA in
        7)
            say "anaconda 21.48 for CentOS 7 started (ksbuild test installer, a stand-in for anaconda)."
            say " * installation log files are stored in /tmp during the installation"
            say " * when reporting a bug add logs from /tmp as separate text/plain attachments"
            ;;
        *)
            if [ "$PERSONA" = 8 ]; then version=33.16; else version=34.25; fi
            say "anaconda $version for Rocky Linux $PERSONA started (ksbuild test installer, a stand-in for anaconda)."
            say " * installation log files are stored in /tmp during the installation"
            say " * shell is available on TTY2"
            ;;
    esac
}

# Before the disk is laid out: EL7's hub lines, or the task queues of anaconda 31-33+ (pyanaconda/installation.py).
say_before_storage() {
    if [ "$PERSONA" = 7 ]; then
        say "Starting automated install."
        say "Checking software selection"
        say "Generating updated storage configuration"
        say "Checking storage configuration..."
        say "Setting up the installation environment"
    else
        say "Setting up the installation environment"
        say "Configuring storage"
    fi
}

# After the disk (blivet's "Creating ..." lines came in between), before the payload.
say_before_payload() {
    if [ "$PERSONA" != 7 ]; then
        say "Running pre-installation tasks"
        say "Installing."
    fi
}

# The payload's lines: yum's on EL7 (`Installing <name> (n/N)`), dnf's transaction callbacks on 8 and 9
# (`Installing <name>.<arch> (n/N)`, then `Configuring <name>.<arch>` per scriptlet; pyanaconda/payload/dnf).
# Whether 33/34 still print "Starting package installation process" was not found [N]: only 7 prints it.
say_payload_start() {
    if [ "$PERSONA" = 7 ]; then
        say "Starting package installation process"
    else
        say "Downloading packages"
    fi
    say "Preparing transaction from installation source"
}

say_packages() {
    total=$(wc -l < "$1")
    count=0
    while IFS= read -r package; do
        count=$((count + 1))
        if [ "$PERSONA" = 7 ]; then
            say "Installing $package ($count/$total)"
        else
            say "Installing $package.x86_64 ($count/$total)"
        fi
    done < "$1"
    [ "$PERSONA" = 7 ] && return 0
    while IFS= read -r package; do
        say "Configuring $package.x86_64"
    done < "$1"
}

# The last queue of anaconda 31+: after the %post scripts.
say_after_post() {
    [ "$PERSONA" = 7 ] || say "Storing configuration files and kickstarts"
}

# crash_lines EXCEPTION REASON: how an unhandled installer error shows on the console in cmdline mode. EL7: the
# crash notice (pyanaconda/exception.py, 21.48). 8 and 9: the cmdline-mode text of the Runtime-module era
# exception handler; for NonInteractiveError its own first sentence. Which variant exactly 33.16/34.25 carry was
# not pinned to a branch [N]; the verdict knows both first sentences.
crash_lines() {
    if [ "$PERSONA" = 7 ]; then
        say "An unknown error has occured, look at the /tmp/anaconda-tb* file(s) for more details"
        return 0
    fi
    say ""
    if [ "$1" = NonInteractiveError ]; then
        say "The installation was stopped due to an error which occurred while running in non-interactive cmdline mode. Since there cannot be any questions in cmdline mode, edit your kickstart file and retry installation."
    else
        say "Running in cmdline mode, no interactive debugging allowed."
    fi
    say "The exact error message is: "
    say ""
    say "$1: $2."
    say ""
    say "The installer will now terminate."
}

# The installed test system's release files: 7 keeps the ones in target/etc; 8 and 9 say theirs.
write_release_files() {
    [ "$PERSONA" = 7 ] && return 0
    {
        echo 'NAME="ksbuild test system"'
        echo "VERSION=\"$PERSONA (stand-in for an EL$PERSONA distribution)\""
        echo 'ID="ksbuild-test"'
        echo 'ID_LIKE="rhel centos fedora"'
        echo "VERSION_ID=\"$PERSONA\""
        echo "PLATFORM_ID=\"platform:el$PERSONA\""
        echo "PRETTY_NAME=\"ksbuild test system $PERSONA (stand-in for EL$PERSONA, installed by the ksbuild test installer)\""
    } > "$1/etc/os-release"
    echo "ksbuild test system release $PERSONA (stand-in for EL$PERSONA)" > "$1/etc/redhat-release"
}

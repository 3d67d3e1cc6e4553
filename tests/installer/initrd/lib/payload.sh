# shellcheck shell=sh
# The "packages": instead of RPMs, the installer lays down the ksbuild test system (busybox, bash, the
# Debian kernel, recording stand-ins for systemctl, rpm, virsh...) and records the %packages list so
# the rpm stand-in can answer for it. The kernel comes from the installation source, as the kernel
# package would.

PAYLOAD=/usr/share/ksbuild-installer
KERNEL_VERSION=$(cat "$PAYLOAD/kernel-version")
# Units a CentOS 7 host has enabled out of the box, kept as state by the systemctl stand-in.
BASE_ENABLED_UNITS="sshd.service crond.service rsyslog.service chronyd.service tuned.service
auditd.service firewalld.service NetworkManager.service network.service"

lay_out_target() {
    for dir in usr/bin usr/sbin usr/lib usr/lib64 usr/share boot etc root home tmp var/tmp var/log \
        var/lib/ksbuild-test/systemd mnt media opt srv etc/sysconfig/network-scripts etc/modprobe.d \
        etc/modules-load.d etc/systemd/system/multi-user.target.wants usr/lib/systemd/system \
        etc/yum.repos.d; do
        mkdir -p "$TARGET/$dir"
    done
    chmod 1777 "$TARGET/tmp" "$TARGET/var/tmp"
    chmod 0550 "$TARGET/root"
    # CentOS 7 keeps everything in /usr.
    for dir in bin sbin lib lib64; do
        ln -s "usr/$dir" "$TARGET/$dir"
    done
    while IFS= read -r path; do
        mkdir -p "$TARGET$(dirname "$path")"
        cp -a "$path" "$TARGET$path" || return 1
    done < "$PAYLOAD/payload.list"
    cp -a "$PAYLOAD/target/." "$TARGET/" || return 1
    # bridge-utils' brctl is CentOS 7's only: EL8 and EL9 have no bridge-utils (see also install_target_system).
    [ "$PERSONA" = 7 ] && ln -s ../lib/ksbuild-test/brctl "$TARGET/usr/sbin/brctl"
    ln -s bash "$TARGET/usr/bin/sh"
    ln -s ../lib/ksbuild-test/init "$TARGET/usr/sbin/init"
    # Busybox applets fill in every command the stand-ins and bash do not provide: --install never
    # replaces an existing file. It needs /proc in the target to find itself.
    chroot "$TARGET" /usr/bin/busybox --install -s
    rm -f "$TARGET/linuxrc"
}

write_libvirt_default_network() {
    networks=$TARGET/etc/libvirt/qemu/networks
    mkdir -p "$networks/autostart"
    uuid=$(cat /proc/sys/kernel/random/uuid)
    mac=$(od -An -N3 -tx1 /dev/urandom | awk '{ print "52:54:00:" $1 ":" $2 ":" $3 }')
    sed -e "s/@UUID@/$uuid/" -e "s/@MAC@/$mac/" "$PAYLOAD/libvirt-default-network.xml" > "$networks/default.xml"
    ln -s ../default.xml "$networks/autostart/default.xml"
}

install_target_system() {
    say_payload_start
    lay_out_target ||
        crash PayloadInstallError "cannot copy the test system to $TARGET" "payload.sh:lay_out_target"
    repo_fetch images/pxeboot/vmlinuz "$TARGET/boot/vmlinuz-$KERNEL_VERSION" ||
        crash PayloadInstallError "cannot read images/pxeboot/vmlinuz from the installation source" "payload.sh:install_target_system"
    cp "$PAYLOAD/initramfs.img" "$TARGET/boot/initramfs-$KERNEL_VERSION.img"

    write_release_files "$TARGET"
    # bridge-utils is not in EL8/EL9's repositories: no brctl there (busybox's applet link neither).
    [ "$PERSONA" = 7 ] || rm -f "$TARGET/usr/sbin/brctl" "$TARGET/usr/bin/brctl"
    package_names > /tmp/package-names
    say_packages /tmp/package-names
    # The rpm stand-in answers from this list; kernel and bash are really there.
    { echo kernel; echo bash; cat /tmp/package-names; } > "$TARGET/var/lib/ksbuild-test/rpmdb"

    for unit in $BASE_ENABLED_UNITS; do
        echo enabled > "$TARGET/var/lib/ksbuild-test/systemd/$unit"
    done
    # EL8 ships network.service only in the optional network-scripts package; EL9 has none.
    if [ "$PERSONA" = 9 ] || { [ "$PERSONA" = 8 ] && ! grep -qx network-scripts /tmp/package-names; }; then
        rm -f "$TARGET/var/lib/ksbuild-test/systemd/network.service"
    fi
    # What libvirt-daemon-config-network's scriptlet and libvirt's presets do: libvirtd before EL9, the modular
    # daemons' sockets on EL9 (libvirt.spec with_modular_daemons; which of them RHEL 9's presets enable was not
    # found [N]: the test system takes the QEMU, network and storage ones).
    if grep -q '^libvirt' /tmp/package-names; then
        if [ "$PERSONA" = 9 ]; then
            for unit in virtqemud.socket virtnetworkd.socket virtstoraged.socket; do
                echo enabled > "$TARGET/var/lib/ksbuild-test/systemd/$unit"
            done
        else
            echo enabled > "$TARGET/var/lib/ksbuild-test/systemd/libvirtd.service"
        fi
        excluded libvirt-daemon-config-network || write_libvirt_default_network
    fi
    excluded NetworkManager && rm -f "$TARGET/var/lib/ksbuild-test/systemd/NetworkManager.service"
    excluded firewalld && rm -f "$TARGET/var/lib/ksbuild-test/systemd/firewalld.service"
    return 0
}

install_bootloader() {
    say "Installing boot loader"
    if [ -n "$ESP_PART" ]; then
        install_efi_bootloader
    else
        install_extlinux
    fi
}

# UEFI: the EFI system partition as anaconda lays it out for CentOS 7 (EFI/centos/shimx64.efi, which loads
# grubx64.efi beside it, and grub.cfg; EFI/BOOT/BOOTX64.EFI for firmware without a boot entry), with Debian's
# shim and a GRUB image built from Debian's modules (prefix /EFI/centos, as CentOS's grubx64.efi has). There is
# no efibootmgr and no fbx64.efi: the firmware's boot order (the network first) stays as it is.
install_efi_bootloader() {
    esp=$TARGET/boot/efi
    mkdir -p "$esp/EFI/centos" "$esp/EFI/BOOT"
    cat > /tmp/grub.cfg <<EOF
# Written by the ksbuild test installer (anaconda would run grub2-mkconfig here).
set default=0
set timeout=0
search --no-floppy --fs-uuid --set=root $ROOT_UUID
menuentry 'ksbuild test system' {
    linuxefi /boot/vmlinuz-$KERNEL_VERSION root=$ROOT_PART rw console=ttyS0,115200n8 quiet $BOOT_APPEND
    initrdefi /boot/initramfs-$KERNEL_VERSION.img
}
EOF
    { cp "$PAYLOAD/efi/shimx64.efi" "$PAYLOAD/efi/grubx64.efi" /tmp/grub.cfg "$esp/EFI/centos/" &&
        cp "$PAYLOAD/efi/shimx64.efi" "$esp/EFI/BOOT/BOOTX64.EFI" &&
        cp "$PAYLOAD/efi/grubx64.efi" "$esp/EFI/BOOT/grubx64.efi"; } ||
        crash BootLoaderError "cannot copy the EFI boot loader to $ESP_PART" "payload.sh:install_efi_bootloader"
}

# BIOS: extlinux instead of GRUB 2: the same Debian kernel, the target's own initramfs, a serial console.
install_extlinux() {
    mkdir -p "$TARGET/boot/extlinux"
    cat > "$TARGET/boot/extlinux/extlinux.conf" <<EOF
# Written by the ksbuild test installer (anaconda would install GRUB 2 here).
SERIAL 0 115200
DEFAULT ksbuild
PROMPT 0
TIMEOUT 1
LABEL ksbuild
    KERNEL /boot/vmlinuz-$KERNEL_VERSION
    INITRD /boot/initramfs-$KERNEL_VERSION.img
    APPEND root=$ROOT_PART rw console=ttyS0,115200n8 quiet $BOOT_APPEND
EOF
    extlinux --install "$TARGET/boot/extlinux" > /tmp/extlinux.log 2>&1 ||
        crash BootLoaderError "extlinux --install failed: $(tail -n 3 /tmp/extlinux.log)" "payload.sh:install_extlinux"
    dd if="$PAYLOAD/mbr.bin" of="$DISK" bs=440 count=1 conv=notrunc,fsync 2>/dev/null ||
        crash BootLoaderError "cannot write the boot code to $DISK" "payload.sh:install_extlinux"
}

# shellcheck shell=sh
# The installer environment: kernel filesystems, boot options, drivers and the network, as dracut
# prepares them before anaconda starts.

# Storage, cdrom and network drivers for what libvirt/qemu give a guest. modprobe pulls in
# dependencies; crc32c_generic is loaded by name because ext4 asks for it through a softdep, which
# busybox modprobe does not follow. A module the kernel has built in (Debian: af_packet) is skipped.
INSTALLER_MODULES="virtio_pci virtio_blk virtio_scsi virtio_net virtio_console virtio_rng
ata_piix ata_generic ahci sd_mod sr_mod cdrom isofs nls_utf8 crc32c_generic ext4 vfat nls_cp437 nls_ascii
af_packet bridge 8021q bonding e1000 8139cp"

setup_environment() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mount -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p /run/install/repo /tmp /mnt/sysimage
    chmod 1777 /tmp
    exec < /dev/console > /dev/console 2>&1
    # Keep kernel chatter off the console so installer lines arrive whole; dmesg goes to the log.
    dmesg -n 1
    hostname localhost
}

# getarg NAME...: the value of the last NAME=value on the kernel command line (first NAME that has one).
getarg() {
    for name in "$@"; do
        value=""
        found=""
        read -r cmdline < /proc/cmdline
        for arg in $cmdline; do
            case $arg in
                "$name"=*) value=${arg#"$name"=}; found=1 ;;
            esac
        done
        if [ -n "$found" ]; then
            echo "$value"
            return 0
        fi
    done
    return 1
}

load_modules() {
    for module in $INSTALLER_MODULES; do
        modprobe -q "$module" 2>/dev/null || true
    done
}

first_nic() {
    for dev in /sys/class/net/*; do
        [ -e "$dev/device" ] || continue
        echo "${dev##*/}"
        return 0
    done
    return 1
}

# Like dracut's ip=dhcp on the first NIC: short, and an install from local media goes on without it.
bring_up_network() {
    ip link set lo up
    NIC=$(first_nic) || NIC=""
    NET_UP=""
    if [ -z "$NIC" ]; then
        log_line INFO anaconda "no network device found"
        return 0
    fi
    ip link set "$NIC" up
    if udhcpc -i "$NIC" -n -q -t 3 -T 1 -s /usr/share/udhcpc/default.script > /tmp/udhcpc.log 2>&1; then
        NET_UP=1
        log_line INFO NetworkManager "$NIC: $(ip -4 -o addr show dev "$NIC" | awk '{print $4}')"
    else
        log_line WARNING NetworkManager "$NIC: no DHCP answer"
    fi
    while IFS= read -r line; do log_line DEBUG udhcpc "$line"; done < /tmp/udhcpc.log
}

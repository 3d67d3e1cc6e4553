# shellcheck shell=sh
# Storage. Whatever the kickstart's clearpart/part/autopart/volgroup/logvol say, the layout is fixed and
# depends on the firmware, as anaconda's does: under BIOS an MBR label on the first virtio disk with one
# active partition holding an ext4 root; under UEFI (/sys/firmware/efi) a GPT label with an EFI system
# partition (vda1, FAT32, mounted at /boot/efi) and the ext4 root (vda2).

TARGET=/mnt/sysimage
DISK=/dev/vda
ROOT_PART=/dev/vda1
ESP_PART=""
FIRST_SECTOR=2048
MIN_SECTORS=262144
# 64 MiB: enough for FAT32 (busybox mkdosfs makes nothing else), shim and GRUB.
ESP_SECTORS=131072

# le32 N: N as four little-endian bytes.
le32() {
    value=$1
    for _ in 1 2 3 4; do
        # shellcheck disable=SC2059 # the format is the byte to print
        printf "\\$(printf '%03o' $((value & 255)))"
        value=$((value >> 8))
    done
}

write_partition_table() {
    sectors=$1
    {
        # Boot code (the first 440 bytes) is written with the boot loader.
        head -c 446 /dev/zero
        # Active, CHS fields saturated (LBA only), type 0x83 (Linux).
        printf '\200\376\377\377\203\376\377\377'
        le32 "$FIRST_SECTOR"
        le32 $((sectors - FIRST_SECTOR))
        head -c 48 /dev/zero
        printf '\125\252'
    } > /tmp/mbr.img
    dd if=/tmp/mbr.img of="$DISK" bs=512 count=1 conv=notrunc,fsync 2>/dev/null
}

# GPT by sfdisk (util-linux): CRCs and the backup label are not worth writing by hand.
write_gpt_label() {
    printf 'label: gpt\nstart=%s, size=%s, type=U, name="EFI System Partition"\nstart=%s, type=L\n' \
        "$FIRST_SECTOR" "$ESP_SECTORS" $((FIRST_SECTOR + ESP_SECTORS)) |
        sfdisk --no-reread --no-tell-kernel "$DISK" > /tmp/sfdisk.log 2>&1
}

uefi_firmware() {
    [ -d /sys/firmware/efi ]
}

wait_for_block() {
    tries=0
    while [ ! -b "$1" ] && [ $tries -lt 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    [ -b "$1" ]
}

prepare_disk() {
    wait_for_block "$DISK" ||
        crash StorageError "No usable disks: the test installer installs to the first virtio disk, $DISK, and there is none" "disk.sh:prepare_disk"
    sectors=$(cat /sys/block/vda/size)
    [ "$sectors" -ge $MIN_SECTORS ] ||
        crash StorageError "$DISK has $((sectors / 2048)) MiB; the test installer needs at least $((MIN_SECTORS / 2048)) MiB" "disk.sh:prepare_disk"
    if uefi_firmware; then
        ESP_PART=/dev/vda1
        ROOT_PART=/dev/vda2
        [ "$sectors" -ge $((MIN_SECTORS + ESP_SECTORS)) ] ||
            crash StorageError "$DISK has $((sectors / 2048)) MiB; the test installer needs at least $(((MIN_SECTORS + ESP_SECTORS) / 2048)) MiB under UEFI" "disk.sh:prepare_disk"
        write_gpt_label ||
            crash StorageError "cannot write the GPT label of $DISK: $(tail -n 3 /tmp/sfdisk.log)" "disk.sh:write_gpt_label"
    else
        write_partition_table "$sectors" ||
            crash StorageError "cannot write the partition table of $DISK" "disk.sh:write_partition_table"
    fi
    blockdev --rereadpt "$DISK" ||
        crash StorageError "the kernel did not re-read the partition table of $DISK" "disk.sh:prepare_disk"
    wait_for_block "$ROOT_PART" ||
        crash StorageError "$ROOT_PART did not appear after partitioning" "disk.sh:prepare_disk"
    say "Creating ext4 on $ROOT_PART"
    ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)
    mkfs.ext4 -q -F -U "$ROOT_UUID" -E lazy_itable_init=1,lazy_journal_init=1 "$ROOT_PART" > /tmp/mkfs.log 2>&1 ||
        crash FSError "mkfs.ext4 $ROOT_PART failed: $(tail -n 3 /tmp/mkfs.log)" "disk.sh:prepare_disk"
    mount -t ext4 "$ROOT_PART" "$TARGET" ||
        crash FSError "cannot mount $ROOT_PART on $TARGET" "disk.sh:prepare_disk"
    [ -n "$ESP_PART" ] && prepare_esp
    return 0
}

prepare_esp() {
    say "Creating efi on $ESP_PART"
    mkdosfs -n ESP "$ESP_PART" > /tmp/mkdosfs.log 2>&1 ||
        crash FSError "mkdosfs $ESP_PART failed: $(tail -n 3 /tmp/mkdosfs.log)" "disk.sh:prepare_esp"
    mkdir -p "$TARGET/boot/efi"
    mount -t vfat -o umask=0077 "$ESP_PART" "$TARGET/boot/efi" ||
        crash FSError "cannot mount $ESP_PART on $TARGET/boot/efi" "disk.sh:prepare_esp"
    # The FAT32 volume serial (bytes 67-70, little-endian) is what blkid calls the UUID: XXXX-XXXX.
    ESP_UUID=$(od -An -tx1 -j67 -N4 "$ESP_PART" | awk '{ print toupper($4 $3 "-" $2 $1) }')
}

# The kernel filesystems chroot scripts expect, mounted in the target as anaconda (blivet) does.
mount_system_dirs() {
    mkdir -p "$TARGET/dev" "$TARGET/proc" "$TARGET/sys" "$TARGET/run"
    if ! { mount --bind /dev "$TARGET/dev" && mount -t proc proc "$TARGET/proc" &&
        mount -t sysfs sysfs "$TARGET/sys" && mount -t tmpfs -o mode=0755 tmpfs "$TARGET/run"; }; then
        crash FSError "cannot mount /dev, /proc, /sys and /run in $TARGET" "disk.sh:mount_system_dirs"
    fi
}

umount_target() {
    for dir in run sys proc dev boot/efi; do
        umount "$TARGET/$dir" 2>/dev/null
    done
    umount "$TARGET" 2>/dev/null
    sync
}

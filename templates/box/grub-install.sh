#!/bin/sh
# grub-install for BIOS on the disk that holds volume group $1 (run by guestfish's `command`
# in the box's root).  libguestfs calls our disk /dev/sda in its API, but `command` sees the
# appliance kernel's own names, where the appliance's root disk (ext2) may be sda: so the disk
# is found from the PV, not assumed.
set -eu
pv=$(vgs --noheadings -o pv_name "$1" | tr -d ' ')
disk=${pv%%[0-9]*}
echo "grub-install on $disk (PV $pv)"
grub-install --target=i386-pc --no-floppy "$disk"

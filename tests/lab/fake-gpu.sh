#!/usr/bin/env bash
# LAB ONLY: give a lab node container the H200 host's GPU as the lab can show it, for the
# playbooks that reboot and then check the GPUs (playbooks/upgrade.yml's steps 4 to 6).
#
#   tests/lab/fake-gpu.sh CONTAINER
#
# The container must have been started with a host directory on /sys/module (a container
# cannot load a kernel module, and its own /sys is read-only). This writes:
# - /etc/k3s-gpu-lab/fake-gpu/: nvidia-smi's replay files (the stand-in nvidia-smi of
#   tests/lab/standins/bin replays them), captured on a real H200 (tests/unit/fixtures);
# - /usr/local/sbin/lab-reboot: the stand-in for a reboot, for cuda_driver_reboot_command.
#   What a reboot does to the driver: the installed module becomes the loaded one
#   (/sys/module/nvidia/version, and the driver version nvidia-smi reports), and the boot
#   id that cuda_driver_boot_time_command ("cat /run/lab-boot-id") reads changes. Each
#   "reboot" appends the loaded version to /var/log/lab-reboots.
# Roles never create any of these; users' hosts reboot for real.
set -euo pipefail
c=$1
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="$here/../unit/fixtures/nvidia-smi"
fake=/etc/k3s-gpu-lab/fake-gpu
podman exec "$c" mkdir -p "$fake"
podman cp "$fixtures/h200-1gpu-q.xml" "$c:$fake/nvidia-smi-q.xml"
podman cp "$fixtures/h200-2gpu-query-compute-cap.csv" "$c:$fake/query-gpu.csv"
podman exec -i "$c" sh -c 'cat > /usr/local/sbin/lab-reboot && chmod 0755 /usr/local/sbin/lab-reboot' <<REBOOT
#!/bin/sh
set -e
v=\$(dpkg-query -W -f='\${Version}' nvidia-driver-cuda | cut -d- -f1)
mkdir -p /sys/module/nvidia
echo "\$v" > /sys/module/nvidia/version
sed -i "s|<driver_version>[^<]*</driver_version>|<driver_version>\$v</driver_version>|" $fake/nvidia-smi-q.xml
cat /proc/sys/kernel/random/uuid > /run/lab-boot-id
echo "\$v" >> /var/log/lab-reboots
REBOOT
podman exec "$c" sh -c 'cat /proc/sys/kernel/random/uuid > /run/lab-boot-id'

#!/usr/bin/env bash
# Build the two images the whole-job GPU run needs, with no registry (tests/gpu/e2e.sh):
#   - the vectoradd image: the collection's bundled vectorAdd CUDA source
#     (plugins/module_utils/_cuda_programs.py, VECTOR_ADD_CU) compiled with nvcc as
#     /cuda-samples/vectorAdd (the path of NVIDIA's cuda-sample:vectoradd image), with the
#     libraries it links (ldd) and libdl, libpthread and librt, which libcuda loads; ENV as
#     NVIDIA's CUDA images set it (LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64,
#     NVIDIA_DRIVER_CAPABILITIES=compute,utility); no driver library inside: the NVIDIA
#     runtime brings those;
#   - the pause image: tests/gpu/build/pause/pause.c, built static by tests/gpu/build.sh;
#   - the device-plugin stand-in's image (tests/lab/standins/device-plugin, static Go) with the
#     C libraries the host driver's nvidia-smi links (it runs the host's nvidia-smi).
#
#   images.sh OUT_DIR BIN_DIR VECTORADD_IMAGE PAUSE_IMAGE DEVICE_PLUGIN_IMAGE
# BIN_DIR holds pause and nvidia-device-plugin. Writes OUT_DIR/vectoradd.tar, pause.tar and
# device-plugin.tar (archives for `ctr images import`).
# Needs nvcc (PATH or /usr/local/cuda/bin) and python3.
set -euo pipefail
out=${1:?usage: images.sh OUT_DIR BIN_DIR VECTORADD_IMAGE PAUSE_IMAGE DEVICE_PLUGIN_IMAGE}
bin=${2:?directory of pause and nvidia-device-plugin}
vadd_image=${3:?vectoradd image name}
pause_image=${4:?pause image name}
plugin_image=${5:?device plugin image name}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export PATH=$PATH:/usr/local/cuda/bin
mkdir -p "$out"
work=$(mktemp -d /tmp/gpu-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 - "$repo/plugins/module_utils/_cuda_programs.py" "$work/vectorAdd.cu" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("cuda_programs", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
open(sys.argv[2], "w").write(mod.VECTOR_ADD_CU)
PY
# sm_90 machine code for the H200 (Hopper) plus PTX for any later GPU.
nvcc -O2 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
  -o "$work/vectorAdd" "$work/vectorAdd.cu"

root="$work/vadd-root"
mkdir -p "$root/cuda-samples" "$root/tmp" "$root/etc" "$root/usr/local/nvidia/lib64"
cp "$work/vectorAdd" "$root/cuda-samples/vectorAdd"
copy_lib() {  # copy a library into $root at the path it is found at (links resolved)
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}
for lib in $(ldd "$work/vectorAdd" | grep -oE '/[^ ]+'); do copy_lib "$lib"; done
for name in libdl.so.2 libpthread.so.0 librt.so.1 libm.so.6; do
  for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
    if [ -e "$dir/$name" ]; then copy_lib "$dir/$name"; break; fi
  done
done
printf '/usr/local/nvidia/lib64\n/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n' > "$root/etc/ld.so.conf"
python3 "$here/oci_image.py" --name "$vadd_image" --rootfs "$root" --entrypoint /cuda-samples/vectorAdd \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64 \
  --env NVIDIA_DRIVER_CAPABILITIES=compute,utility \
  "$out/vectoradd.tar"

proot="$work/pause-root"
mkdir -p "$proot"
cp "$bin/pause" "$proot/pause"
python3 "$here/oci_image.py" --name "$pause_image" --rootfs "$proot" --entrypoint /pause "$out/pause.tar"

root="$work/plugin-root"
mkdir -p "$root/usr/bin" "$root/tmp" "$root/var/lib/kubelet/device-plugins" "$root/usr/local/nvidia"
cp "$bin/nvidia-device-plugin" "$root/usr/bin/nvidia-device-plugin"
smi=$(command -v nvidia-smi || echo /usr/local/nvidia/bin/nvidia-smi)
for lib in $(ldd "$smi" | grep -oE '/[^ ]+' | grep -v '^/usr/local/nvidia'); do copy_lib "$lib"; done
python3 "$here/oci_image.py" --name "$plugin_image" --rootfs "$root" --entrypoint /usr/bin/nvidia-device-plugin \
  --env PATH=/usr/local/nvidia/bin:/usr/bin:/bin "$out/device-plugin.tar"

# SPDX-License-Identifier: MIT
# Sourced by the GPU tests and benchmarks: `fake_gpu_host DIR` makes a fake GPU
# host for ferryd's local backend with the fake NVML (tests/gpu/fake-nvml):
#   GPU 0-3: whole GPUs (nvidia.com/gpu), minors 0-3
#   GPU 4:   MIG on: two 1g.10gb (gi 7, 8) and one 3g.40gb (gi 2)
# DIR/dev holds the device nodes (mknod: needs root) and DIR/mig-minors the
# driver's capability list; FAKE_NVML_GPUS is exported, and FAKE_GPU_OPTS holds
# ferryd's backend options that point the local backend at them.
fake_gpu_host() {
  local d=$1 i m
  export FAKE_NVML_GPUS="NVIDIA A100-SXM4-80GB|81920|0|0|0|off;NVIDIA A100-SXM4-80GB|81920|0|0|0|off;NVIDIA A100-SXM4-80GB|81920|0|0|0|off;NVIDIA A100-SXM4-80GB|81920|0|0|0|off;NVIDIA A100-SXM4-80GB|81920|0|0|0|on:1g.10gb/7/0/0,1g.10gb/8/0/0,3g.40gb/2/0/0"
  mkdir -p "$d/dev/nvidia-caps"
  for i in 0 1 2 3 4; do mknod -m 666 "$d/dev/nvidia$i" c 195 "$i"; done
  mknod -m 666 "$d/dev/nvidiactl" c 195 255
  mknod -m 666 "$d/dev/nvidia-uvm" c 235 0
  for m in 1 2 21 22 66 67 75 76; do mknod -m 444 "$d/dev/nvidia-caps/nvidia-cap$m" c 237 "$m"; done
  printf 'config 1\nmonitor 2\ngpu4/gi2/access 21\ngpu4/gi2/ci0/access 22\ngpu4/gi7/access 66\ngpu4/gi7/ci0/access 67\ngpu4/gi8/access 75\ngpu4/gi8/ci0/access 76\n' > "$d/mig-minors"
  FAKE_GPU_OPTS=(--backend-opt "gpu_dev_dir=$d/dev" --backend-opt "gpu_mig_minors=$d/mig-minors")
}

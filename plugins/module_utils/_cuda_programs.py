# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Small CUDA programs that gpu_validate compiles with nvcc on the target.

PRIVATE to the k3s_gpu.node collection. They are kept here as strings because a module runs
on the target without the collection's files. Both are written for this collection; their
output follows the layout of the CUDA samples' deviceQuery and vectorAdd so that the same
parser reads either.
"""

from __future__ import annotations

import hashlib

# Prints what the CUDA samples' deviceQuery prints for the fields the collection checks,
# in the same layout, ending with "Result = PASS" (or "Result = FAIL").
# Only cudaDeviceProp fields that CUDA 11 to 13 all keep are used (CUDA 13 removed clockRate
# and memoryClockRate from the struct).
DEVICE_QUERY_CU = r"""
#include <cstdio>
#include <cuda_runtime.h>

static void version(int v, int *major, int *minor) {
  *major = v / 1000;
  *minor = (v % 100) / 10;
}

int main(void) {
  printf(" CUDA Device Query (Runtime API) version (CUDART static linking)\n");
  printf(" [k3s_gpu.node bundled deviceQuery]\n\n");
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    printf("cudaGetDeviceCount returned %d\n-> %s\n", (int)err, cudaGetErrorString(err));
    printf("Result = FAIL\n");
    return 1;
  }
  if (count == 0) {
    printf("There are no available device(s) that support CUDA\n");
    printf("Result = FAIL\n");
    return 1;
  }
  printf("Detected %d CUDA Capable device(s)\n", count);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  int dmaj, dmin, rmaj, rmin;
  version(driver, &dmaj, &dmin);
  version(runtime, &rmaj, &rmin);
  for (int dev = 0; dev < count; ++dev) {
    cudaDeviceProp p;
    err = cudaGetDeviceProperties(&p, dev);
    if (err != cudaSuccess) {
      printf("cudaGetDeviceProperties(%d) returned %d\n-> %s\n", dev, (int)err, cudaGetErrorString(err));
      printf("Result = FAIL\n");
      return 1;
    }
    printf("\nDevice %d: \"%s\"\n", dev, p.name);
    printf("  CUDA Driver Version / Runtime Version          %d.%d / %d.%d\n", dmaj, dmin, rmaj, rmin);
    printf("  CUDA Capability Major/Minor version number:    %d.%d\n", p.major, p.minor);
    printf("  Total amount of global memory:                 %.0f MBytes (%llu bytes)\n",
           (double)p.totalGlobalMem / 1048576.0, (unsigned long long)p.totalGlobalMem);
    printf("  (%03d) Multiprocessors\n", p.multiProcessorCount);
    printf("  L2 Cache Size:                                 %d bytes\n", p.l2CacheSize);
    printf("  Warp size:                                     %d\n", p.warpSize);
    printf("  Maximum number of threads per block:           %d\n", p.maxThreadsPerBlock);
    printf("  Device PCI Domain ID / Bus ID / location ID:   %d / %d / %d\n", p.pciDomainID, p.pciBusID, p.pciDeviceID);
  }
  printf("\ndeviceQuery, CUDA Driver = CUDART, CUDA Driver Version = %d.%d, CUDA Runtime Version = %d.%d, NumDevs = %d\n",
         dmaj, dmin, rmaj, rmin, count);
  printf("Result = PASS\n");
  return 0;
}
"""

# Adds two vectors of 50000 floats on every visible GPU and checks the sums on the host;
# prints "Test PASSED" only when every GPU got them right, like the CUDA samples' vectorAdd.
VECTOR_ADD_CU = r"""
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cuda_runtime.h>

__global__ void vector_add(const float *a, const float *b, float *c, int n) {
  int i = blockDim.x * blockIdx.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

#define CHECK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { \
  printf("Device %d: %s failed: %s\n", dev, #call, cudaGetErrorString(e_)); return 1; } } while (0)

static int run_on(int dev, int n) {
  size_t size = (size_t)n * sizeof(float);
  float *a = (float *)malloc(size), *b = (float *)malloc(size), *c = (float *)malloc(size);
  if (!a || !b || !c) { printf("Device %d: host allocation failed\n", dev); return 1; }
  for (int i = 0; i < n; ++i) { a[i] = rand() / (float)RAND_MAX; b[i] = rand() / (float)RAND_MAX; }
  float *da = NULL, *db = NULL, *dc = NULL;
  CHECK(cudaSetDevice(dev));
  CHECK(cudaMalloc((void **)&da, size));
  CHECK(cudaMalloc((void **)&db, size));
  CHECK(cudaMalloc((void **)&dc, size));
  printf("Copy input data from the host memory to the CUDA device %d\n", dev);
  CHECK(cudaMemcpy(da, a, size, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(db, b, size, cudaMemcpyHostToDevice));
  int threads = 256, blocks = (n + threads - 1) / threads;
  printf("CUDA kernel launch with %d blocks of %d threads\n", blocks, threads);
  vector_add<<<blocks, threads>>>(da, db, dc, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  printf("Copy output data from the CUDA device %d to the host memory\n", dev);
  CHECK(cudaMemcpy(c, dc, size, cudaMemcpyDeviceToHost));
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    if (fabsf(a[i] + b[i] - c[i]) > 1e-5f) {
      printf("Device %d: result verification failed at element %d\n", dev, i);
      bad = 1;
      break;
    }
  }
  cudaFree(da); cudaFree(db); cudaFree(dc);
  free(a); free(b); free(c);
  if (!bad) printf("Device %d: OK\n", dev);
  return bad;
}

int main(void) {
  int n = 50000, count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    printf("cudaGetDeviceCount failed: %s\nTest FAILED\n", cudaGetErrorString(err));
    return 1;
  }
  if (count == 0) { printf("No CUDA device\nTest FAILED\n"); return 1; }
  printf("[Vector addition of %d elements on %d device(s)]\n", n, count);
  int failed = 0;
  for (int dev = 0; dev < count; ++dev) failed |= run_on(dev, n);
  if (failed) { printf("Test FAILED\n"); return 1; }
  printf("Test PASSED\nDone\n");
  return 0;
}
"""

SOURCES = {
    "deviceQuery": DEVICE_QUERY_CU,
    "vectorAdd": VECTOR_ADD_CU,
}


def source_hash(name, extra=""):
    """Hash of a bundled source and what else shapes the binary (nvcc path, flags)."""
    digest = hashlib.sha256()
    digest.update(SOURCES[name].encode("utf-8"))
    digest.update(b"\0")
    digest.update(extra.encode("utf-8"))
    return digest.hexdigest()[:16]

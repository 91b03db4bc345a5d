"""What the bench needs to know about the model and the CPU, as one JSON line.

usage: python machine.py <model.onnx> <threads>
- gflopsPerImage: 2 x multiply-accumulates of every Conv in the ONNX graph (shapes inferred
  for batch 1); the ReLU/pool/resize work is a rounding error next to it.
- sgemmGflops: what numpy's BLAS reaches on a large float32 matrix product with <threads>
  threads: a practical ceiling for dense float32 work on this machine.
- clockGhz: from a chain of dependent 64-bit IMULs (3 cycles each on every Intel core since
  Core 2 and every AMD core since Zen), when a C compiler exists. A chain of adds is not a
  clock: newer Intel cores execute some add-immediates at rename, at 4 or more per cycle
  (that probe printed 16.52 GHz on an Intel machine).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

threads = sys.argv[2]
os.environ.setdefault("OPENBLAS_NUM_THREADS", threads)
os.environ.setdefault("OMP_NUM_THREADS", threads)
os.environ.setdefault("MKL_NUM_THREADS", threads)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import shape_inference  # noqa: E402


def conv_gflops(path):
    m = shape_inference.infer_shapes(onnx.load(path))
    dims = {}
    for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        dims[v.name] = [d.dim_value if d.dim_value > 0 else 1 for d in v.type.tensor_type.shape.dim]
    weights = {i.name: list(i.dims) for i in m.graph.initializer}
    macs = 0
    for n in m.graph.node:
        if n.op_type == "Conv":
            macs += int(np.prod(dims[n.output[0]])) * int(np.prod(weights[n.input[1]][1:]))
    params = int(sum(int(np.prod(v)) for v in weights.values()))
    return 2 * macs / 1e9, params


def sgemm_gflops(n=2048, reps=8):
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


PROBE = r"""
#include <stdio.h>
#include <time.h>
int main(void) {
  struct timespec a, b; long n = 100000000; unsigned long x = 3;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++)
    __asm__ volatile("imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0" : "+r"(x));
  clock_gettime(CLOCK_MONOTONIC, &b);
  /* 4 dependent IMULs of 3 cycles each per iteration; the loop's own add/branch run alongside */
  printf("%f\n", 12.0 * n / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9) / 1e9);
  return 0;
}
"""


def clock_ghz():
    try:
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "probe.c"), os.path.join(d, "probe")
            open(src, "w").write(PROBE)
            subprocess.run(["cc", "-O1", "-o", exe, src], check=True, capture_output=True)
            return max(float(subprocess.run([exe], capture_output=True, text=True, check=True).stdout) for _ in range(2))
    except Exception:
        return None


gflops, params = conv_gflops(sys.argv[1])
print(json.dumps({"gflopsPerImage": gflops, "params": params, "sgemmGflops": sgemm_gflops(), "clockGhz": clock_ghz()}))

"""Build and run exp_epilogue.cpp for the x86-64-v4 (AVX-512) and x86-64-v3 (AVX2)
targets of the extension's clones; print a markdown table.

    python benchmarks/exp_epilogue/exp_epilogue.py

Needs g++ and glibc's libmvec (Linux x86-64); the x86-64-v4 build needs an AVX-512 CPU
to run (skipped otherwise).  Throughput: one core, best of 7 runs of 20000 passes over an
L1-resident tile of 4096 arguments in [-40, 0] (an RBF / softmax epilogue's range).
Accuracy: maximum relative error against long double ``expl`` on 2^22 points of
[-87.3, 88] (float) / [-708.3, 709] (double).
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FLAGS = ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"]  # as setup.py


def cpu_has(flag):
    try:
        with open("/proc/cpuinfo") as f:
            return any(flag in line.split() for line in f if line.startswith("flags"))
    except OSError:
        return False


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch, need in (("x86-64-v4", "avx512f"), ("x86-64-v3", "avx2")):
            if not cpu_has(need):
                print(f"skipping {arch}: the CPU has no {need}", file=sys.stderr)
                continue
            exe = os.path.join(tmp, f"exp_{arch}")
            subprocess.run(["g++", *FLAGS, f"-march={arch}", f'-DAXF_ARCH="{arch}"',
                            os.path.join(HERE, "exp_epilogue.cpp"), "-o", exe, "-lmvec", "-lm"], check=True)
            out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
            rows += [json.loads(line) for line in out.splitlines() if line.strip()]
    print("| target | dtype | implementation | Gelem/s (1 core) | max relative error |")
    print("|---|---|---|---:|---:|")
    for r in rows:
        print(f"| {r['arch']} | {r['dtype']} | {r['impl']} | {r['gelem_per_s']:.2f} | {r['max_rel_err']:.1e} |")


if __name__ == "__main__":
    main()

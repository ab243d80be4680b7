#!/usr/bin/env bash
# The GPU checks of issue 12, as one script for a machine with an NVIDIA GPU (prepared on a machine
# without one; not yet run). From the repository root, with the venv of `make test`:
#   bash benchmarks/gpu_check.sh [OUT_DIR]      (about 10 minutes on one H100/H200-class GPU)
# It installs CuPy for torch's CUDA, runs the CuPy kernel tests, the neuron benchmark on CUDA
# against SpikingJelly's Triton path (LIF, ALIF, CubaLIF; 2^22 neurons), and a short
# `ashnet train --config demo` on CUDA with AMP. Everything it prints also goes to OUT_DIR.
set -uo pipefail
OUT=${1:-${OUT:-runs/gpu_check}}
PY=${PY:-.venv/bin/python}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
export PYTHONPATH=${PYTHONPATH:-$PWD}
step() { echo; echo "=== $* ($(date +%T))"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"

step "CuPy for torch's CUDA"
CUDA_MAJOR=$($PY -c "import torch; print(torch.version.cuda.split('.')[0])")
$PY -m pip install -q "cupy-cuda${CUDA_MAJOR}x" || echo "cupy install failed"
$PY -c "import cupy; print('cupy', cupy.__version__, cupy.cuda.runtime.getDeviceCount(), 'GPU(s)')"

step "kernel tests (CuPy on the GPU, the emulation, NVRTC)"
timeout 600 $PY -m pytest -q -p no:cacheprovider -rs tests/neuro/test_kernels_cupy.py tests/neuro/test_kernels_nvrtc.py

step "neuron benchmark on CUDA: T=16, B=16, N=262144 (2^22 neurons), fp32"
for neuron in lif alif cuba; do
    timeout 600 $PY benchmarks/neurons.py --device cuda --neuron "$neuron" --T 16 --B 16 --N 262144 \
        --repeats 20 --out "$OUT/neurons-cuda-$neuron.json"
done
# GPU memory bandwidth: the floor pass moves 2 x 256 MiB; x floor near 1 means the fused kernel
# reads and writes each element about once per direction (targets: >= 1.5x SpikingJelly's
# Triton path, >= 60 % of the memory bandwidth)
$PY - "$OUT/neurons-cuda-lif.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
mb = 2 * 16 * 16 * 262144 * 4 / 2**20
for name, res in r["results"].items():
    print(f"{name:32s} total {res['total']['median_ms']:8.3f} ms  x floor {res['x_floor']:5.2f}  "
          f"vs best peer {res.get('speedup_vs_best_peer', float('nan')):5.2f}x")
print(f"floor pass {r['floor_pass']['median_ms']:.3f} ms = {mb / r['floor_pass']['median_ms']:.0f} MiB/ms "
      "(read + write of one [T, B, N] tensor)")
PYEOF

step "ashnet train --config demo on CUDA with AMP (OpenMoji, 300 steps)"
DATA=$OUT/openmoji
timeout 900 ${ASHNET:-.venv/bin/ashnet} data build openmoji --out "$DATA" --size 128 || true
timeout 1200 ${ASHNET:-.venv/bin/ashnet} train --config demo --data "$DATA/pairs.csv" --out "$OUT/train-demo" \
    --set train.device=cuda --set train.amp=true --set train.max_steps=300 || echo "train failed"
ls -la "$OUT/train-demo" 2>/dev/null | head

step "done: $OUT"

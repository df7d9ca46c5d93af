"""PyTorch peer for the projector-refresh benchmark: torch.linalg.svd (thin, the call GaLore
makes) of random m×n float32 matrices, 2 threads. Usage: /usr/bin/python3 bench/torch_svd.py 768x3072 …
Prints one JSON line: {"768x3072": ms, …} (median of 3)."""
import json, sys, time, torch

torch.set_num_threads(2)
out = {}
for spec in sys.argv[1:]:
    m, n = map(int, spec.split("x"))
    a = torch.randn(m, n)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        torch.linalg.svd(a, full_matrices=False)
        times.append((time.perf_counter() - t) * 1000)
    out[spec] = sorted(times)[1]
print(json.dumps(out))

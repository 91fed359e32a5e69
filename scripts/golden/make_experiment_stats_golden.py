# Golden values for core/experiment/stats.ts (docs/experiments.md §3): numpy's mean, sample standard
# deviation (ddof=1) and linear-interpolation percentiles (numpy's default method) of fixed vectors.
import json, sys, platform
import numpy as np

vectors = [
    [0.5],
    [0.81, 0.79],
    [0.1, 0.4, 0.35, 0.8, 0.62],
    [3.0, -1.5, 2.25, 0.0, 7.5, -4.0, 1.0, 1.0, 2.0, 9.75, -0.5],
]
qs = [0.0, 2.5, 25.0, 50.0, 97.5, 100.0]
out = {
    "generator": {"numpy": np.__version__, "python": platform.python_version(), "script": "scripts/golden/make_experiment_stats_golden.py"},
    "cases": [
        {"x": v, "mean": float(np.mean(v)), "std": (float(np.std(v, ddof=1)) if len(v) > 1 else None),
         "q": qs, "percentiles": [float(p) for p in np.percentile(v, qs)]}
        for v in vectors
    ],
}
json.dump(out, sys.stdout, indent=1)

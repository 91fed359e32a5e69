#!/usr/bin/env python3
"""Generates the golden numbers of FedSeg's privacy accountant (core/contract/privacy.ts,
docs/security.md §8) ONCE with numpy/scipy; the JSON is committed and core/contract/privacy.test.ts
reads it, so CI never needs Python.

  python3 scripts/golden/make_privacy_golden.py    # writes test/fixtures/golden/privacy.json

Per case (noise multiplier z, rounds R, delta):
  * epsilon: the Rényi-DP bound of R rounds of the Gaussian mechanism without subsampling,
    rdp(a) = R a / (2 z^2), converted with Canonne, Kamath & Steinke 2020 (Prop. 12)
    eps = rdp + log((a-1)/a) - (log(delta) + log(a)) / (a-1), minimised over the grid
    a = 1 + 10^(k/100), k = -300..500 (the grid of core/contract/privacy.ts), and the order reached;
  * epsilonClassic: Mironov 2017's conversion rdp + log(1/delta)/(a-1) over the same grid (looser);
  * exactDelta: the true delta of the composed mechanism at that epsilon. R Gaussian mechanisms of
    sensitivity 1 and noise z compose to one with mu = sqrt(R)/z (Dong, Roth & Su 2019), whose exact
    privacy profile is delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2) (Balle & Wang 2018).
    The RDP epsilon is an upper bound, so exactDelta <= delta.
"""
import json
import os
import sys

import numpy as np
import scipy
from scipy.stats import norm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'golden')
GEN = {'numpy': np.__version__, 'scipy': scipy.__version__, 'python': sys.version.split()[0], 'script': 'scripts/golden/make_privacy_golden.py'}

ORDERS = 1 + 10.0 ** (np.arange(-300, 501) / 100.0)


def epsilon(z, rounds, delta):
    rdp = rounds * ORDERS / (2 * z * z)
    eps = rdp + np.log((ORDERS - 1) / ORDERS) - (np.log(delta) + np.log(ORDERS)) / (ORDERS - 1)
    i = int(np.argmin(eps))
    return max(0.0, float(eps[i])), float(ORDERS[i])


def epsilon_classic(z, rounds, delta):
    eps = rounds * ORDERS / (2 * z * z) + np.log(1 / delta) / (ORDERS - 1)
    return float(np.min(eps))


def exact_delta(z, rounds, eps):
    mu = np.sqrt(rounds) / z
    # e^eps Phi(x) in log space: eps reaches hundreds for small z and many rounds.
    return float(norm.cdf(-eps / mu + mu / 2) - np.exp(eps + norm.logcdf(-eps / mu - mu / 2)))


def main():
    cases = []
    for z in [0.5, 0.8, 1.0, 1.1, 2.0, 5.0, 10.0, 50.0]:
        for rounds in [1, 10, 100, 1000]:
            for delta in [1e-3, 1e-5, 1e-8]:
                eps, order = epsilon(z, rounds, delta)
                cases.append({'noiseMultiplier': z, 'rounds': rounds, 'delta': delta, 'epsilon': eps, 'order': order,
                              'epsilonClassic': epsilon_classic(z, rounds, delta), 'exactDelta': exact_delta(z, rounds, eps)})
    path = os.path.join(OUT, 'privacy.json')
    with open(path, 'w') as f:
        json.dump({'generator': GEN, 'orders': [float(a) for a in ORDERS], 'cases': cases}, f, separators=(',', ':'))
    print(f'{path}: {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main()

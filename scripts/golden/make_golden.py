#!/usr/bin/env python3
"""Generates FedSeg's golden numerics fixtures ONCE with numpy/scipy; the JSON is committed and the
TypeScript tests (core/**/golden*.test.ts) read it, so CI never needs Python.

  python3 scripts/golden/make_golden.py            # writes test/fixtures/golden/*.json

Versions used for the committed files are recorded in each file ("generator" field).

medpy is not installed here, so medpy.metric.binary.hd95 / asd are re-implemented below line by line
from medpy 0.5's source (__surface_distances: surface = mask XOR binary_erosion(mask, cross, 1);
distance_transform_edt(~reference_border, sampling=spacing)[result_border]; hd95 = percentile of the
two directions hstacked, 95). CFSI follows FedDG-ELCFS's low_freq_mutate_np / source_to_target_freq
with the corrected Eq. 2 (the authors' correction, docs/algorithms.md §2) and a given lambda instead of a random one.
"""
import json
import os
import sys

import numpy as np
import scipy
from scipy.ndimage import binary_dilation, binary_erosion, distance_transform_edt, generate_binary_structure, label

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'golden')
rng = np.random.default_rng(20261126)
GEN = {'numpy': np.__version__, 'scipy': scipy.__version__, 'python': sys.version.split()[0], 'script': 'scripts/golden/make_golden.py'}


def fl(a):
    """Float array -> list of Python floats (repr round-trips exactly through JSON)."""
    return [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def bits(m):
    return ''.join('1' if v else '0' for v in np.asarray(m).ravel())


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    print(f'{path}: {os.path.getsize(path)} bytes')


# ---------------------------------------------------------------------------------------------- FFT
def make_fft():
    cases = []
    for (h, w, cplx) in [(1, 1, False), (5, 7, False), (8, 6, True), (13, 11, False), (12, 10, True),
                         (17, 19, False), (9, 25, True), (2, 384, True), (3, 96, False)]:
        re = np.round(rng.normal(size=(h, w)), 3)
        im = np.round(rng.normal(size=(h, w)), 3) if cplx else np.zeros((h, w))
        F = np.fft.fft2(re + 1j * im)
        inv = np.fft.ifft2(re + 1j * im)
        cases.append({'h': h, 'w': w, 'complex': cplx, 're': fl(re), 'im': fl(im) if cplx else None,
                      'fftRe': fl(F.real), 'fftIm': fl(F.imag), 'ifftRe': fl(inv.real), 'ifftIm': fl(inv.imag),
                      'shifted': fl(np.fft.fftshift(re)), 'ishifted': fl(np.fft.ifftshift(re))})
    write('fft.json', {'generator': GEN, 'cases': cases})


# ---------------------------------------------------------------------------------------------- CFSI
def extract_amp_spectrum(img):  # FedDG-ELCFS: img C x H x W
    fft = np.fft.fft2(img, axes=(-2, -1))
    return np.abs(fft), np.angle(fft)


def window(a, b):
    """fftshifted centred (2b+1)^2 window, exactly the slice low_freq_mutate_np uses."""
    s = np.fft.fftshift(a, axes=(-2, -1))
    _, h, w = s.shape
    ch, cw = int(np.floor(h / 2.0)), int(np.floor(w / 2.0))
    return s[:, ch - b:ch + b + 1, cw - b:cw + b + 1]


def low_freq_mutate_np(amp_src, trg_window, b, lam):
    a_src = np.fft.fftshift(amp_src, axes=(-2, -1))
    _, h, w = a_src.shape
    c_h = np.floor(h / 2.0).astype(int)
    c_w = np.floor(w / 2.0).astype(int)
    h1, h2, w1, w2 = c_h - b, c_h + b + 1, c_w - b, c_w + b + 1
    # corrected Eq. 2: A' = A (1 - M) + ((1 - lambda) A + lambda A_trg) M
    a_src[:, h1:h2, w1:w2] = a_src[:, h1:h2, w1:w2] * (1 - lam) + trg_window * lam
    return np.fft.ifftshift(a_src, axes=(-2, -1))


def make_cfsi():
    cases = []
    for (h, w, c, alpha, lam, clip) in [(12, 10, 3, 0.1, 0.5, True), (9, 11, 1, 0.25, 1.0, False), (16, 16, 3, 0.0, 1.0, True),
                                        (15, 8, 2, 0.2, 0.3, False), (20, 24, 3, 0.05, 0.8, True), (32, 32, 3, 0.003, 0.6, True)]:
        b = int(np.floor(min(h, w) * alpha))
        # Images are integers 0..255 (exact in float32, as ImageF32 holds them), HWC.
        src = rng.integers(0, 256, size=(h, w, c)).astype(np.float64)
        trg = rng.integers(0, 256, size=(h, w, c)).astype(np.float64)
        src_chw = src.transpose(2, 0, 1)
        trg_chw = trg.transpose(2, 0, 1)
        amp_trg, _ = extract_amp_spectrum(trg_chw)
        win = window(amp_trg, b)  # what the target site shares
        win32 = win.astype(np.float32).astype(np.float64)  # shared as float32
        amp_src, pha_src = extract_amp_spectrum(src_chw)
        amp_new = low_freq_mutate_np(amp_src, win32, b, lam)
        fft_new = amp_new * np.exp(1j * pha_src)
        out = np.real(np.fft.ifft2(fft_new, axes=(-2, -1)))
        if clip:
            out = np.clip(out, 0, 255)
        cases.append({'h': h, 'w': w, 'c': c, 'alpha': alpha, 'halfWidth': b, 'lambda': lam, 'clip': [0, 255] if clip else None,
                      'source': fl(src), 'target': fl(trg), 'targetWindow': fl(win), 'output': fl(out.transpose(1, 2, 0))})
    write('cfsi.json', {'generator': GEN, 'cases': cases})


# ---------------------------------------------------------------------------------------------- morphology
def random_mask(h, w, density, blobs=0):
    m = rng.random((h, w)) < density
    for _ in range(blobs):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(2, max(3, min(h, w) // 3))
        yy, xx = np.mgrid[0:h, 0:w]
        m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return m


def make_morphology():
    cross = generate_binary_structure(2, 1)
    cases = []
    for (h, w, density, blobs) in [(20, 23, 0.5, 0), (17, 17, 0.3, 2), (24, 19, 0.7, 0), (16, 30, 0.1, 3), (1, 9, 0.6, 0), (9, 1, 0.6, 0)]:
        m = random_mask(h, w, density, blobs)
        lab, n = label(m)  # default structure: the cross (4-connectivity)
        cases.append({'h': h, 'w': w, 'mask': bits(m),
                      'erode1': bits(binary_erosion(m, structure=cross, iterations=1)),
                      'erode2': bits(binary_erosion(m, iterations=2)),
                      'dilate1': bits(binary_dilation(m, iterations=1)),
                      'dilate5': bits(binary_dilation(m, iterations=5)),
                      'labels': [int(v) for v in lab.ravel()], 'count': int(n)})
    write('morphology.json', {'generator': GEN, 'cases': cases})


# ---------------------------------------------------------------------------------------------- HD95 (medpy)
def surface_distances(result, reference, voxelspacing=None, connectivity=1):
    """medpy.metric.binary.__surface_distances, verbatim logic."""
    result = np.atleast_1d(result.astype(np.bool_))
    reference = np.atleast_1d(reference.astype(np.bool_))
    footprint = generate_binary_structure(result.ndim, connectivity)
    if 0 == np.count_nonzero(result) or 0 == np.count_nonzero(reference):
        raise RuntimeError('empty mask')
    result_border = result ^ binary_erosion(result, structure=footprint, iterations=1)
    reference_border = reference ^ binary_erosion(reference, structure=footprint, iterations=1)
    dt = distance_transform_edt(~reference_border, sampling=voxelspacing)
    return dt[result_border]


def hd95(result, reference, voxelspacing=None):
    hd1 = surface_distances(result, reference, voxelspacing)
    hd2 = surface_distances(reference, result, voxelspacing)
    return np.percentile(np.hstack((hd1, hd2)), 95)


def asd(result, reference, voxelspacing=None):
    return surface_distances(result, reference, voxelspacing).mean()


def dc(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * np.count_nonzero(a & b) / float(np.count_nonzero(a) + np.count_nonzero(b))


def make_hd95():
    cases = []

    def add(name, a, b, spacing=None):
        h, w = a.shape
        cases.append({'name': name, 'h': h, 'w': w, 'a': bits(a), 'b': bits(b), 'spacing': list(spacing) if spacing else None,
                      'hd95': float(hd95(a, b, spacing)), 'hd95ba': float(hd95(b, a, spacing)),
                      'asd': float(asd(a, b, spacing)), 'asdba': float(asd(b, a, spacing)), 'dice': dc(a, b)})

    for k in range(6):
        h, w = int(rng.integers(20, 48)), int(rng.integers(20, 48))
        add(f'random{k}', random_mask(h, w, 0.02, 2), random_mask(h, w, 0.02, 2))
    for k in range(2):
        add(f'random-spacing{k}', random_mask(30, 36, 0.03, 2), random_mask(30, 36, 0.03, 2), spacing=(0.5, 2.0))
    yy, xx = np.mgrid[0:32, 0:32]
    disc = (yy - 16) ** 2 + (xx - 15) ** 2 <= 81
    disc2 = (yy - 18) ** 2 + (xx - 17) ** 2 <= 64
    add('discs', disc, disc2)
    add('discs-spacing', disc, disc2, spacing=(1.25, 0.8))
    add('identical', disc, disc.copy())
    border = np.zeros((24, 24), bool); border[0:10, 0:24] = True
    border2 = np.zeros((24, 24), bool); border2[0:13, 5:24] = True
    add('touching-border', border, border2)
    full = np.ones((16, 20), bool)
    add('full-vs-blob', full, disc[:16, :20])
    single = np.zeros((25, 25), bool); single[12, 12] = True
    single2 = np.zeros((25, 25), bool); single2[3, 20] = True
    add('single-pixels', single, single2)
    add('single-vs-disc', single, disc[:25, :25])
    dis1 = np.zeros((30, 40), bool); dis1[2:8, 2:10] = True
    dis2 = np.zeros((30, 40), bool); dis2[20:28, 25:38] = True
    add('disjoint', dis1, dis2)
    add('disjoint-spacing', dis1, dis2, spacing=(3.0, 0.7))
    nested = np.zeros((30, 30), bool); nested[5:25, 5:25] = True
    inner = np.zeros((30, 30), bool); inner[12:16, 12:18] = True
    add('nested', nested, inner)
    line = np.zeros((10, 40), bool); line[4, 3:37] = True
    add('thin-line-vs-box', line, nested[:10, :40] if nested.shape[1] >= 40 else np.pad(nested[:10], ((0, 0), (0, 10))))
    write('hd95.json', {'generator': GEN, 'cases': cases})


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    make_fft()
    make_cfsi()
    make_morphology()
    make_hd95()

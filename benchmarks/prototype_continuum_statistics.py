"""Prototype, for measurement only: continuum-only pixels through sufficient statistics.

    python benchmarks/prototype_continuum_statistics.py two_resolutions

Fits a scenario (warm cache), then takes its program and data at the posterior line windows and
moves every pixel outside all line windows that lies in exactly one sampled Linear continuum
region out of the pixel blocks, into seven numbers per spectrum and region (with a = flux/error,
u = 1/error, v = (pixel centre - region centre)/error: sums of a², au, av, u², uv, v² and the
normalising constant). Their log likelihood is then a quadratic form in
alpha = K (scale + tan(angle) (centre - norm_wav)) and beta = K tan(angle), K = flux_scale x the
spectrum's continuum factor. The remaining pixels form blocks of contiguous runs. The program
text is patched by hand (data declarations and the quadratic term). It prints the log density
and gradient of both programs at random points (they agree to ~1e-13) and the gradient cost.

Measured 2026-12-02 (best of 5 x 2000 gradients, posterior windows):
two_resolutions 1465 of 1902 pixels moved, 73.8 -> 46.3 us; low_snr 183 of 363, 24.6 -> 20.9 us;
dozen_lines 296 of 555 into 8 blocks and 6 regions, 36.6 -> 39.2 us (slower: the per-block
and per-region overhead outweighs the pixels moved). Not product code: the product version has
to rebuild the split whenever the windows or blocks change and apply it only where it pays.
"""

from __future__ import annotations

import sys
import time

import numpy as np

sys.path.insert(0, "/work/main/benchmarks")
import run
import scenarios
from threads import gradient_seconds

from unite_stan.stan.backends import get_backend
from unite_stan.stan.data import spectrum_intervals

api = run.stan_api()
eng = get_backend("embedded")
name = sys.argv[1]
case = scenarios.tutorial_fit1(api) if name == "tutorial_fit1" else scenarios.SCENARIOS[name](api)
_, args = run.run_stan_case(api, case, seed=0)[1:]
prog = args.program
d = prog.data
code = prog.code
assert "linear_regions" in code and "pix_offset_free" not in code
ivs = spectrum_intervals(d)
new = dict(d)
e0s, nes, p0s, nps, pint, sbs, snb = [], [], [], [], [], [], []
S, R = int(d["N_spec"]), int(d["N_region"])
cstat = np.zeros((S, R, 7))
cn = np.zeros((S, R), int)
lin = set(int(r) for r in np.atleast_1d(d["linear_regions"]))
for s, iv in enumerate(ivs):
    ne_s = int(d["spec_n_edge"][s])
    e_off = int(d["spec_edge_start"][s]) - 1
    covered = np.zeros(ne_s, bool)
    for j in range(int(d["N_line"])):
        st, ln = d["line_win_start"][s, j], d["line_win_len"][s, j]
        if ln >= 2:
            covered[st - 1 : st - 1 + ln - 1] = True
    member = np.zeros((R, ne_s), bool)
    for r in range(R):
        st, ln = d["region_int_start"][s, r], d["region_int_len"][s, r]
        member[r, st - 1 : st - 1 + ln] = True
    k = iv - 1
    inone = member[:, k].sum(0) == 1
    which = member[:, k].argmax(0)
    elig = ~covered[k] & inone & np.isin(which + 1, list(lin))
    pglob = int(d["spec_pix_start"][s]) - 1 + np.arange(iv.size)
    edge = d["edge"][e_off : e_off + ne_s]
    mid = 0.5 * (edge[1:] + edge[:-1])
    y, er = d["flux_norm"][pglob], d["error_norm"][pglob]
    for r in range(R):
        m = elig & (which == r)
        if not m.any():
            continue
        a, uu = y[m] / er[m], 1 / er[m]
        v = (mid[k[m]] - d["region_center"][r]) / er[m]
        cstat[s, r] = [
            a @ a,
            a @ uu,
            a @ v,
            uu @ uu,
            uu @ v,
            v @ v,
            -np.log(er[m]).sum() - 0.5 * m.sum() * np.log(2 * np.pi),
        ]
        cn[s, r] = m.sum()
    sbs.append(len(e0s) + 1)
    idx = np.flatnonzero(~elig)
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if idx.size else []
    for rr in runs:
        first, last = iv[rr[0]], iv[rr[-1]]
        e0s.append(first)
        nes.append(last - first + 2)
        p0s.append(pglob[rr[0]] + 1)
        nps.append(rr.size)
        pint.append(iv[rr] - first + 1)
    snb.append(len(e0s) - sbs[-1] + 1)
# pixel_interval entries for eligible pixels are unused but must be >= 1
pi = np.ones(int(d["N_pix"]), int)
for p0, n, x in zip(p0s, nps, pint, strict=True):
    pi[p0 - 1 : p0 - 1 + n] = x
new.update(
    N_block=len(e0s),
    spec_block_start=np.array(sbs),
    spec_n_block=np.array(snb),
    block_edge0=np.array(e0s),
    block_n_edge=np.array(nes),
    block_pix0=np.array(p0s),
    block_n_pix=np.array(nps),
    pix_interval=pi,
    cstat=cstat,
    cstat_n=cn,
)
code2 = code.replace(
    "  array[N_spec] int<lower=1> spec_pix_offset_par;\n",
    "  array[N_spec] int<lower=1> spec_pix_offset_par;\n"
    "  array[N_spec, N_region] vector[7] cstat;\n"
    "  array[N_spec, N_region] int cstat_n;\n",
    1,
)
marker = "                                      spec_r_scale_par, spec_flux_scale_par);\n"
assert code2.count(marker) == 1
code2 = code2.replace(
    marker,
    marker
    + """      for (q in 1:size(linear_regions)) {
        int r = linear_regions[q];
        if (cstat_n[s, r] > 0) {
          real nw = theta[region_nw_par[r]] * region_nw_factor[r];
          real slope = tan(theta[region_par[r, 2]]);
          real k = theta[spec_flux_scale_par[s]] * spec_cont_factor[s];
          real al = k * (theta[region_par[r, 1]] + slope * (region_center[r] - nw));
          real be = k * slope;
          log_lik_spec[s] += cstat[s, r, 7]
                             - 0.5 * (cstat[s, r, 1]
                                      - 2 * (al * cstat[s, r, 2] + be * cstat[s, r, 3])
                                      + square(al) * cstat[s, r, 4]
                                      + 2 * al * be * cstat[s, r, 5]
                                      + square(be) * cstat[s, r, 6]);
        }
      }
""",
)
t = time.perf_counter()
c2 = eng.compile(code2, progress=False)
print("compile", round(time.perf_counter() - t, 1))
c1 = eng.compile(code, progress=False)
d1, d2 = eng.log_density(c1, d), eng.log_density(c2, new)
rng = np.random.default_rng(0)
for _ in range(3):
    x = rng.normal(size=len(prog.free_sites))
    (l1, g1), (l2, g2) = d1(x), d2(x)
    print(
        "lp",
        l1,
        l2,
        "rel",
        abs(l1 - l2) / abs(l1),
        "grad maxrel",
        np.max(np.abs(g1 - g2) / (np.abs(g1) + 1e-8)),
    )
x = np.zeros(len(prog.free_sites))
res = {"old": [], "new": []}
for _ in range(5):
    res["old"].append(gradient_seconds(d1, x, 1, 2000))
    res["new"].append(gradient_seconds(d2, x, 1, 2000))
print(
    name,
    "pixels in stats",
    int(cn.sum()),
    "of",
    int(d["N_pix"]),
    "blocks",
    len(e0s),
    {k: round(1e6 * min(v), 1) for k, v in res.items()},
)

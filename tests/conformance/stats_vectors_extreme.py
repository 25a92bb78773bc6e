#!/usr/bin/python3
"""Makes stats_vectors_extreme.json: the regions the public vectors do not
reach (far tails, huge degrees of freedom, counts of 10^12, heavy ties,
p-values of exactly 0 and 1), in the format of shared/testdata/stats_vectors.json.

Distribution values come from mpmath at 60 digits rather than scipy, because
in these regions scipy is itself only approximately right; test statistics
are computed here in mpmath from their textbook definitions, and
mannwhitneyu / multipletests cases use scipy / statsmodels directly.
Run with Debian's python3 (python3-mpmath, python3-scipy,
python3-statsmodels); only needed to regenerate the file, never at test time:

    /usr/bin/python3 tests/conformance/stats_vectors_extreme.py \
        > tests/conformance/stats_vectors_extreme.json
"""
import json
import random

import mpmath as mp
import numpy as np
import scipy
import scipy.stats
import statsmodels
from statsmodels.stats.multitest import multipletests

mp.mp.dps = 60
rng = random.Random(20240605)
cases = []


def f(x):
    return float(x)


def t_sf(t, df):
    t = mp.mpf(t)
    df = mp.mpf(df)
    x = df / (df + t * t)
    tail = mp.betainc(df / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2
    return tail if t > 0 else 1 - tail


def chi2_sf(x, df):
    a = mp.mpf(df) / 2
    z = mp.mpf(x) / 2
    if a > 1000:
        # mpmath's series for huge a do not converge; integrate the density
        # instead (tanh-sinh quadrature, split around the mode).
        lg = mp.loggamma(a)
        dens = lambda t: mp.exp((a - 1) * mp.log(t) - t - lg)
        # Breakpoints every 'scale' (the local decay length: sqrt(a) near the
        # mode, 1 / (1 - (a - 1) / z) in the tail) keep the quadrature exact.
        scale = min(mp.sqrt(a), 1 / abs(1 - (a - 1) / z)) if z != a - 1 else mp.sqrt(a)
        pts = [z + k * scale for k in range(0, 80)]
        sd = mp.sqrt(a)
        pts += [a + k * sd for k in range(-12, 60) if a + k * sd > pts[-1]]
        pts += [mp.inf]
        return mp.quad(dens, pts)
    if a == int(a):
        # mpmath's integer-order path (expint) takes minutes for large x; a
        # 1e-45 nudge (above the 60-digit working precision, far below a
        # double's) changes the value by ~1e-44 relative.
        a += mp.mpf(10) ** -45
    return mp.gammainc(a, z, mp.inf, regularized=True)


def add(fn, inp, out):
    cases.append({"fn": fn, "in": inp, "out": out})


# Student t: tiny to astronomically large df, deep tails, both signs, and
# both sides of the continued-fraction / Hill switch at df = 1e5.
for df in [0.3, 1, 2.5, 7, 30, 999.5, 5e4, 99999, 100001, 1e6, 1e9, 1e12]:
    for t in [-8, -2.5, 0.001, 0.7, 3, 9, 20, 37]:
        v = t_sf(t, df)
        if v < mp.mpf("1e-300"):
            continue
        add("student_t_sf", {"t": t, "df": df}, {"sf": f(v)})

# Chi-square: tails to 1e-250, and huge df on both sides of the Temme switch
# (df/2 = 1e5).
for df in [1, 2, 3.5, 17, 150, 199990, 200010, 2e6, 1e9]:
    for ratio in [0.01, 0.5, 0.9, 0.999, 1.0, 1.001, 1.1, 1.5, 3, 10, 40]:
        x = df * ratio
        if df > 1000 and ratio in (0.01, 10, 40):
            continue
        v = chi2_sf(x, df)
        if v < mp.mpf("1e-300") or v > 1 - mp.mpf("1e-15"):
            continue
        add("chi2_sf", {"x": x, "df": df}, {"sf": f(v)})

# Normal quantile down to 1e-300 and up to 1 - 1e-16.
for p in [1e-300, 1e-100, 1e-30, 1e-10, 1e-5, 0.02425, 0.075, 0.3, 0.5, 0.925,
          0.97575, 1 - 1e-10, 1 - 2 ** -52]:
    pm = mp.mpf(p)
    z = mp.findroot(lambda z: mp.log(mp.ncdf(z)) - mp.log(pm), float(scipy.stats.norm.ppf(p)))
    add("normal_quantile", {"p": p}, {"z": f(z)})

# Welch with counts up to 10^12 and very unequal arms.
for n1, n2, m1, m2, v1, v2 in [
        (10**12, 10**12, 100.0, 100.0001, 400.0, 400.0),
        (10**12, 5000, 35.2, 35.9, 90.0, 2000.0),
        (2, 3, 1.0, 5.0, 0.5, 2.0),
        (10**9, 10**9, 0.5, 0.5 + 3e-4, 0.25, 0.25),
        (40, 10**7, 10.0, 12.0, 1e-6, 4.0)]:
    a1 = mp.mpf(v1) / n1
    a2 = mp.mpf(v2) / n2
    t = (mp.mpf(m1) - mp.mpf(m2)) / mp.sqrt(a1 + a2)
    df = (a1 + a2) ** 2 / (a1 ** 2 / (n1 - 1) + a2 ** 2 / (n2 - 1))
    p = 2 * t_sf(abs(t), df)
    add("welch_t_test", {"n1": n1, "mean1": m1, "var1": v1, "n2": n2, "mean2": m2, "var2": v2},
        {"t": f(t), "df": f(df), "p_two_sided": f(p)})

# Two proportions with 10^12 trials, rare events, and one arm all successes.
for x1, n1, x2, n2 in [(10**10, 10**12, 10**10 + 10**6, 10**12),
                       (3, 10**9, 11, 10**9),
                       (500, 500, 480, 500),
                       (1, 2, 0, 2)]:
    p1 = mp.mpf(x1) / n1
    p2 = mp.mpf(x2) / n2
    pp = mp.mpf(x1 + x2) / (n1 + n2)
    z = (p1 - p2) / mp.sqrt(pp * (1 - pp) * (mp.mpf(1) / n1 + mp.mpf(1) / n2))
    p = mp.erfc(abs(z) / mp.sqrt(2))
    add("two_proportion_z_test", {"x1": x1, "n1": n1, "x2": x2, "n2": n2},
        {"z": f(z), "p_two_sided": f(p)})

# SRM with 10^12 requests and unequal weights.
for obs, w in [([500000100000, 499999900000], [0.5, 0.5]),
               ([10**12, 10**10, 10**10 + 3 * 10**5], [0.98, 0.01, 0.01]),
               ([0, 10, 0, 5], [0.25, 0.25, 0.25, 0.25])]:
    tot = sum(obs)
    ws = sum(mp.mpf(x) for x in w)
    chi = sum((mp.mpf(o) - tot * mp.mpf(wi) / ws) ** 2 / (tot * mp.mpf(wi) / ws)
              for o, wi in zip(obs, w))
    add("srm_chi_square", {"observed": obs, "weights": w},
        {"chi2": f(chi), "df": len(obs) - 1, "p": f(chi2_sf(chi, len(obs) - 1))})

# Mann-Whitney with heavy ties (values rounded to a few levels), single
# values, and identical samples.
for nx, ny, levels in [(1, 1, 5), (1, 30, 4), (50, 60, 3), (300, 200, 2), (400, 400, 1000)]:
    x = [float(rng.randrange(levels)) for _ in range(nx)]
    y = [float(rng.randrange(levels)) + (0.5 if levels > 100 else 0.0) for _ in range(ny)]
    if len(set(x + y)) == 1:
        continue
    r = scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic",
                                 use_continuity=True)
    add("mann_whitney_u", {"x": x, "y": y},
        {"u_x": float(r.statistic), "p_two_sided": float(r.pvalue)})

# Multiple testing with ties, zeros, ones and a single p-value.
for ps in [[0.01, 0.01, 0.01, 0.04], [0.0, 1.0, 0.5, 0.0], [0.03], [0.049, 0.0125, 0.025, 0.05],
           [1.0, 1.0, 1.0], [0.001 * k for k in range(1, 41)]]:
    for method, name in [("holm", "holm"), ("fdr_bh", "benjamini_hochberg")]:
        rej, adj, _, _ = multipletests(ps, alpha=0.05, method=method)
        add(name, {"p": ps, "alpha": 0.05},
            {"adjusted": [float(a) for a in adj], "reject": [bool(b) for b in rej]})

print(json.dumps({
    "generator": "mpmath %s (60 digits), scipy %s, statsmodels %s; "
                 "tests/conformance/stats_vectors_extreme.py" % (
                     mp.__version__, scipy.__version__, statsmodels.__version__),
    "tolerance": {"relative": 1e-9, "absolute": 1e-300},
    "cases": cases,
}, indent=None))

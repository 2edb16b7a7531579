#!/usr/bin/env python3
"""bmu site --count N against spopt.locate.MCLP on the same demand points, candidates, radius and count.

Synthetic instances in EPSG:32651 (metres, near Jiangqiao): demand at the centres of 100 m cells (seeded clustered
population), candidates every third cell centre, one rectangular unit aligned to the cells, so bmu's demand squares
stand exactly at the demand points spopt gets. Both solutions are scored on the same points: residents within the
radius of a chosen site. bmu is timed as a whole process (reading, validating before and after, writing); spopt as
its model build and CBC solve only.

usage: /tmp/bmu-peers/bin/python tests/compare/mclp.py [--bmu target/release/bmu] [--json out.json] [--cpu]
(make the venv with /work/shared/tools/peers-setup)
"""
import argparse, csv, json, os, resource, subprocess, sys, tempfile, time

import numpy as np
import pulp
from scipy.spatial.distance import cdist
from spopt.locate import MCLP

X0, Y0 = 335_000.0, 3_460_000.0
CELL = 100.0


def instance(nx, ny, seed):
    rng = np.random.default_rng(seed)
    xs = X0 + CELL * (np.arange(nx) + 0.5)
    ys = Y0 + CELL * (np.arange(ny) + 0.5)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pop = rng.gamma(0.6, 20.0, len(pts))
    for _ in range(6):  # residential clusters
        c = pts[rng.integers(len(pts))]
        d = np.hypot(*(pts - c).T)
        pop += 400.0 * np.exp(-((d / rng.uniform(200, 600)) ** 2))
    pop = np.round(pop, 1)
    cand = np.array([p for i, p in enumerate(pts) if (i // nx) % 3 == 1 and (i % nx) % 3 == 1])
    return pts, pop, cand


def write_inputs(d, nx, ny, pts, pop, cand):
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32651"}}
    x1, y1 = X0 + nx * CELL, Y0 + ny * CELL
    unit = {"type": "FeatureCollection", "crs": crs, "features": [{"type": "Feature", "properties": {"id": "U1"},
            "geometry": {"type": "Polygon", "coordinates": [[[X0, Y0], [x1, Y0], [x1, y1], [X0, y1], [X0, Y0]]]}}]}
    json.dump(unit, open(os.path.join(d, "unit.geojson"), "w"))
    with open(os.path.join(d, "pop.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x", "y", "pop"])
        w.writerows([[x, y, p] for (x, y), p in zip(pts, pop)])
    cands = {"type": "FeatureCollection", "crs": crs, "features": [
        {"type": "Feature", "properties": {"id": f"c{i}"}, "geometry": {"type": "Point", "coordinates": [x, y]}}
        for i, (x, y) in enumerate(cand)]}
    json.dump(cands, open(os.path.join(d, "cands.geojson"), "w"))


def covered(pts, pop, chosen, radius):
    if len(chosen) == 0:
        return 0.0
    return float(pop[(cdist(pts, chosen) <= radius + 1e-6).any(axis=1)].sum())


def cpu():
    """CPU seconds (user + sys) of this process and its waited-for children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def run_bmu(exe, d, radius, p):
    args = [exe, "site", "--units", "unit.geojson", "--id-field", "id", "--population", "pop.csv",
            "--set", 'population.grid_crs="EPSG:32651"', "--crs", "EPSG:32651", "--working-crs", "EPSG:32651",
            "--sites", "cands.geojson", "--types", "health", "--count", str(p), "--radius", str(radius),
            "--out", "sites.geojson", "--report", "site.json", "-q"]
    for f in ("sites.geojson", "site.json"):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    t, c = time.perf_counter(), cpu()
    r = subprocess.run(args, cwd=d, capture_output=True, text=True)
    dt, dc = time.perf_counter() - t, cpu() - c
    if r.returncode not in (0, 1):
        sys.exit(f"bmu failed: {r.stderr}")
    rep = json.load(open(os.path.join(d, "site.json")))
    ids = [int(s["candidate_id"][1:]) for s in rep["sites"]]
    row = rep["units"][0]
    return ids, dt, dc, row["method"], row["bound"]


def run_spopt(pts, pop, cand, radius, p):
    t, c = time.perf_counter(), cpu()
    cost = cdist(pts, cand)
    m = MCLP.from_cost_matrix(cost, pop, service_radius=radius, p_facilities=p, name="mclp")
    m = m.solve(pulp.PULP_CBC_CMD(msg=False))
    dt, dc = time.perf_counter() - t, cpu() - c
    ids = [j for j in range(len(cand)) if m.fac2cli[j]]
    return ids, dt, dc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bmu", default=os.path.join(os.path.dirname(__file__), "../../target/release/bmu"))
    ap.add_argument("--json")
    ap.add_argument("--cpu", action="store_true", help="judge time by CPU time (for a loaded machine)")
    a = ap.parse_args()
    exe = os.path.abspath(a.bmu)
    rows = []
    for nx, ny, radius, p in [(40, 30, 500, 3), (60, 40, 500, 5), (60, 40, 1000, 3), (90, 60, 1000, 5)]:
        pts, pop, cand = instance(nx, ny, seed=nx * 1000 + p)
        with tempfile.TemporaryDirectory() as d:
            write_inputs(d, nx, ny, pts, pop, cand)
            b_ids, b_t, b_c, method, bound = run_bmu(exe, d, radius, p)
        s_ids, s_t, s_c = run_spopt(pts, pop, cand, radius, p)
        b_cov, s_cov = covered(pts, pop, cand[b_ids], radius), covered(pts, pop, cand[s_ids], radius)
        rows.append(dict(demand=len(pts), candidates=len(cand), radius=radius, p=p, bmu_covered=round(b_cov, 1),
                         spopt_covered=round(s_cov, 1), bmu_s=round(b_t, 3), spopt_s=round(s_t, 3),
                         time_ratio=round(b_t / s_t, 3), bmu_cpu_s=round(b_c, 3), spopt_cpu_s=round(s_c, 3),
                         cpu_ratio=round(b_c / s_c, 3), bmu_method=method, bmu_bound=bound))
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("| demand | candidates | radius m | p | bmu covered | spopt covered | bmu s | spopt s | ratio "
          "| bmu CPU s | spopt CPU s | CPU ratio | bmu method |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['demand']} | {r['candidates']} | {r['radius']} | {r['p']} | {r['bmu_covered']:.1f} | "
              f"{r['spopt_covered']:.1f} | {r['bmu_s']:.3f} | {r['spopt_s']:.3f} | {r['time_ratio']:.2f} | "
              f"{r['bmu_cpu_s']:.3f} | {r['spopt_cpu_s']:.3f} | {r['cpu_ratio']:.3f} | {r['bmu_method']} |")
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)
    cover = all(r["bmu_covered"] >= r["spopt_covered"] - 1e-6 for r in rows)
    wall = all(r["time_ratio"] <= 0.2 for r in rows)
    cpu_ok = all(r["cpu_ratio"] <= 0.2 for r in rows)
    print("bmu covers at least spopt's population:", cover)
    print("in at most 0.2x its wall time:", wall, "/ CPU time:", cpu_ok)
    ok = cover and (cpu_ok if a.cpu else wall)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

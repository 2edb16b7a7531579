#!/usr/bin/env python3
"""Benchmarks of `bmu batch`: every Shanghai township in one run, and a synthetic national-scale run in shards.

    python tests/compare/batch_scale.py shanghai [--runs 3]           # 251 real townships, 1 and 2 threads
    python tests/compare/batch_scale.py national [--side 200]         # side x side SYNTHETIC towns, 2 shards + merge
    python tests/compare/batch_scale.py national --side 100 200       # both sizes: memory flat as towns grow

Needs numpy and rasterio (the peers venv: /work/shared/tools/peers-setup, then /tmp/bmu-peers/bin/python) and the
release binary ($BMU_BIN, else target/release/bmu; build it with `cargo build --release`). Everything generated goes
under /tmp/bmu-batch-<mode>/ and is not kept in the repository.

shanghai: the 251 township polygons of shared/realdata/stockard-shanghai-covid-2022 (one town per record:
`--town-id-field rec`), a SYNTHETIC population GeoTIFF over the city (EPSG:4326, 0.001 deg cells, density falling
from People's Square, numpy seed 20261206) and a SYNTHETIC road lattice every 0.015 deg; `bmu batch --propose` timed
at RAYON_NUM_THREADS=1 and 2 (best of --runs), peak RSS from /usr/bin/time.

national: side x side SYNTHETIC square towns of 3 km in EPSG:32651 (side=200 gives 40,000 towns over 600 x 600 km),
a road lattice every 1 km, a SYNTHETIC 200 m population GeoTIFF (seeded, 900-1,300 residents a cell); shard 1/2 and
2/2 run one after the other, then `bmu batch merge`; wall time, time per town and peak RSS of each.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BMU_BIN", os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "bmu"))
REAL = os.environ.get("BMU_REALDATA", os.path.join(ROOT, "..", "shared", "realdata"))
SEED = 20261206


def timed(args, env_threads=None):
    """Runs bmu under /usr/bin/time -v: (exit code, wall s, peak RSS MB, CPU s (user + system), stderr)."""
    env = dict(os.environ)
    if env_threads:
        env["RAYON_NUM_THREADS"] = str(env_threads)
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", BIN] + args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", p.stderr))
    return p.returncode, wall, rss, cpu, p.stderr


def grid(path, x0, y0, nx, ny, cell, crs, density):
    """A tiled Deflate float32 GeoTIFF written band by band; density(xs, ys, rng) gives residents per cell."""
    rng = np.random.default_rng(SEED)
    profile = dict(driver="GTiff", width=nx, height=ny, count=1, dtype="float32", crs=crs,
                   transform=from_origin(x0, y0 + ny * cell, cell, cell), nodata=-99999.0,
                   tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        band = 512
        for row in range(0, ny, band):
            h = min(band, ny - row)
            ys = y0 + (ny - row - np.arange(h) - 0.5) * cell
            xs = x0 + (np.arange(nx) + 0.5) * cell
            dst.write(density(xs[None, :], ys[:, None], rng, (h, nx)).astype("float32"), 1, window=Window(0, row, nx, h))


def lattice(path, x0, y0, x1, y1, step, crs=None):
    feats = []
    n = int(round((x1 - x0) / step))
    for i in range(n + 1):
        x = x0 + i * step
        feats.append({"type": "Feature", "properties": {"id": f"v{i}", "highway": "secondary", "synthetic": True},
                      "geometry": {"type": "LineString", "coordinates": [[x, y0], [x, y1]]}})
    n = int(round((y1 - y0) / step))
    for j in range(n + 1):
        y = y0 + j * step
        feats.append({"type": "Feature", "properties": {"id": f"h{j}", "highway": "secondary", "synthetic": True},
                      "geometry": {"type": "LineString", "coordinates": [[x0, y], [x1, y]]}})
    fc = {"type": "FeatureCollection", "features": feats}
    if crs:
        fc["crs"] = {"type": "name", "properties": {"name": crs}}
    with open(path, "w") as f:
        json.dump(fc, f)


def shanghai(runs):
    d = "/tmp/bmu-batch-shanghai"
    os.makedirs(d, exist_ok=True)
    towns = os.path.join(REAL, "stockard-shanghai-covid-2022", "shanghai_street_labeled.geojson")
    x0, y0, x1, y1 = 120.84, 30.66, 121.99, 31.89
    cell = 0.001

    def density(xs, ys, rng, shape):
        # Residents per 1-ha cell: 150 at People's Square falling to 8 at 30 km, with seeded noise.
        d_km = np.hypot((xs - 121.475) * 95.3, (ys - 31.233) * 111.0)
        return (8 + 142 * np.exp(-d_km / 9.0)) * rng.uniform(0.6, 1.4, size=shape)

    tif = os.path.join(d, "population.synthetic.tif")
    grid(tif, x0, y0, int(round((x1 - x0) / cell)), int(round((y1 - y0) / cell)), cell, "EPSG:4326", density)
    roads = os.path.join(d, "roads.synthetic.geojson")
    lattice(roads, x0, y0, x1, y1, 0.015)
    args = ["batch", towns, "--town-id-field", "rec", "--name-field", "inferred_town", "--population", tif,
            "--features", roads, "--propose", "--quiet"]
    best = {}
    for threads in (1, 2):
        for r in range(runs):
            out = os.path.join(d, f"out{threads}")
            code, wall, rss, cpu, err = timed(args + ["--out", out], threads)
            if code not in (0, 1):
                sys.exit(f"bmu failed ({code}): {err[-2000:]}")
            print(f"threads {threads} run {r + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MB, "
                  f"exit {code}, load {os.getloadavg()[0]:.1f}", flush=True)
            if threads not in best or wall < best[threads][0]:
                best[threads] = (wall, rss, cpu)
    same = subprocess.run(["diff", "-rq", os.path.join(d, "out1"), os.path.join(d, "out2")], capture_output=True)
    rows = open(os.path.join(d, "out2", "summary.csv"), encoding="utf-8-sig").read().splitlines()[1:]
    failed = sum(1 for r in rows if ",failed," in r)
    print(f"towns {len(rows)} ({failed} failed); 1 thread {best[1][0]:.2f} s, 2 threads {best[2][0]:.2f} s, "
          f"speed-up {best[1][0] / best[2][0]:.2f}x; CPU {best[1][2]:.1f} / {best[2][2]:.1f} s; peak RSS {best[1][1]:.0f} / {best[2][1]:.0f} MB; "
          f"outputs identical at 1 and 2 threads: {same.returncode == 0}; load {os.getloadavg()[0]:.1f}")


def national(side):
    d = f"/tmp/bmu-batch-national-{side}"
    os.makedirs(d, exist_ok=True)
    size = 3000.0
    x0, y0 = 200000.0, 3300000.0
    feats = []
    for j in range(side):
        for i in range(side):
            a, b = x0 + i * size, y0 + j * size
            ring = [[a, b], [a + size, b], [a + size, b + size], [a, b + size], [a, b]]
            feats.append(json.dumps({"type": "Feature", "properties": {"code": f"T{j:04d}{i:04d}", "synthetic": True},
                                     "geometry": {"type": "Polygon", "coordinates": [ring]}}))
    towns = os.path.join(d, "towns.synthetic.geojson")
    with open(towns, "w") as f:
        f.write('{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:32651"}},"features":[\n')
        f.write(",\n".join(feats))
        f.write("\n]}\n")
    span = side * size
    lattice(os.path.join(d, "roads.synthetic.geojson"), x0, y0, x0 + span, y0 + span, 1000.0, "EPSG:32651")
    cell = 200.0
    n = int(span / cell)
    tif = os.path.join(d, "population.synthetic.tif")
    grid(tif, x0, y0, n, n, cell, "EPSG:32651", lambda xs, ys, rng, shape: rng.uniform(900, 1300, size=shape))
    common = [towns, "--town-id-field", "code", "--population", tif, "--features",
              os.path.join(d, "roads.synthetic.geojson"), "--working-crs", "EPSG:32651", "--quiet"]
    total = 0.0
    cpu_total = 0.0
    for k in (1, 2):
        code, wall, rss, cpu, err = timed(["batch"] + common + ["--shard", f"{k}/2", "--out", os.path.join(d, f"shard{k}")])
        if code not in (0, 1):
            sys.exit(f"shard {k} failed ({code}): {err[-2000:]}")
        total += wall
        cpu_total += cpu
        print(f"shard {k}/2: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.0f} MB, load {os.getloadavg()[0]:.1f}",
              flush=True)
    code, wall, rss, cpu, err = timed(["batch", "merge", os.path.join(d, "shard1"), os.path.join(d, "shard2"),
                                  "--out", os.path.join(d, "merged"), "--quiet"])
    if code not in (0, 1):
        sys.exit(f"merge failed ({code}): {err[-2000:]}")
    towns_n = side * side
    print(f"merge: {wall:.1f} s wall, {cpu:.1f} s CPU ({cpu / (side * side) * 1e3:.2f} ms a town), peak RSS {rss:.0f} MB")
    print(f"{towns_n} towns: shards {total:.1f} s wall = {total / towns_n * 1e3:.1f} ms a town (2 threads), "
          f"{cpu_total / towns_n * 1e3:.1f} ms CPU a town; "
          f"load {os.getloadavg()[0]:.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["shanghai", "national"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--side", type=int, nargs="+", default=[200])
    a = ap.parse_args()
    if a.mode == "shanghai":
        shanghai(a.runs)
    else:
        for side in a.side:
            national(side)


if __name__ == "__main__":
    main()

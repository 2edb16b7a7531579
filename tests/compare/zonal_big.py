#!/usr/bin/env python3
"""Issue #16's population floors on a 10^8-cell grid: bmu at 1 and 2 threads against exactextract.

Synthetic layers (seeded, nothing real): over the grid `big_grid.py` writes ($BMU_BIG_GRID, default
/tmp/bmu-big-grid.tif: 10 000 x 10 000 cells of 3 arc-seconds, EPSG:4326, float32 Deflate 256 x 256 tiles), this
writes two polygon layers in EPSG:4326:
  - bmu-big-all.geojson: one polygon over the whole grid;
  - bmu-big-10k.geojson: 100 x 100 quads over the grid, each inset by a fraction of a cell on its sides and with its
    lower-right corner raised by SEED-drawn jitter (0.05..0.15 cell), so that every polygon cuts cells.
Then it times the whole `bmu population` process (RAYON_NUM_THREADS=1 and 2) and exactextract (the call alone and
the whole process), checks that the per-polygon sums agree (relative 1e-9), and prints the table.

Run from the repository root with the release binary built and a peers venv holding exactextract 0.3 and geopandas:

    python3 tests/compare/big_grid.py            # once, with rasterio and numpy
    BMU_PEERS_PYTHON=/tmp/bmu-peers/bin/python python3 tests/compare/zonal_big.py

Floors (issue #16): one polygon <= exactextract's time; 10,000 polygons <= 0.1 x exactextract; 1 -> 2 threads
>= 1.8x. Wall times mean something only on an idle machine; CPU times (user + sys) are printed beside them, and the
1-minute load average before each layer's runs.

    --runs N      bmu runs at 1 and 2 threads, alternating; the best wall time of each counts (default 5)
    --skip-peer   time bmu only (no exactextract run, no comparison of sums)
"""
import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time

SEED = 20261206
SIZE = 10_000
CELL = 1 / 1200
N = 100
OUT = os.environ.get("BMU_BIG_DIR", "/tmp")
GRID = os.environ.get("BMU_BIG_GRID", "/tmp/bmu-big-grid.tif")
PEERS = os.environ.get("BMU_PEERS_PYTHON", "/tmp/bmu-peers/bin/python")
BMU = os.environ.get("BMU_BIN", "target/release/bmu")


def layers() -> dict:
    x0, y1 = 121.5 - SIZE / 2 * CELL, 31.2 + SIZE / 2 * CELL
    x1, y0 = x0 + SIZE * CELL, y1 - SIZE * CELL
    rng = random.Random(SEED)
    step = SIZE * CELL / N
    feats = []
    for r in range(N):
        for c in range(N):
            a = x0 + c * step + 0.3 * CELL
            b = x0 + (c + 1) * step - 0.2 * CELL
            t = y1 - r * step - 0.25 * CELL
            u = y1 - (r + 1) * step + 0.35 * CELL
            lift = rng.uniform(0.05, 0.15) * CELL
            ring = [[a, u], [b, u + lift], [b, t], [a, t], [a, u]]
            feats.append({"type": "Feature", "properties": {"id": r * N + c},
                          "geometry": {"type": "Polygon", "coordinates": [ring]}})
    whole = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    paths = {}
    for name, features in [
        ("all", [{"type": "Feature", "properties": {"id": 0},
                  "geometry": {"type": "Polygon", "coordinates": [whole]}}]),
        ("10k", feats),
    ]:
        path = os.path.join(OUT, f"bmu-big-{name}.geojson")
        with open(path, "w") as f:
            json.dump({"type": "FeatureCollection", "name": f"synthetic seed {SEED}", "features": features}, f)
        paths[name] = path
    return paths


def timed(cmd: list, env: dict | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + sys of the child) and stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


PEER = """
import json, sys, time
import geopandas as gpd
from exactextract import exact_extract
polys = gpd.read_file(sys.argv[2])
t = time.perf_counter()
df = exact_extract(sys.argv[1], polys, "sum", include_cols=["id"], output="pandas")
call = time.perf_counter() - t
print(json.dumps({"call": call, "sums": {str(int(i)): float(s) for i, s in zip(df["id"], df["sum"])}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="bmu runs per thread count, alternating (best counts)")
    parser.add_argument("--skip-peer", action="store_true", help="no exactextract run")
    args = parser.parse_args()
    if not os.path.exists(GRID):
        sys.exit(f"{GRID} missing: run tests/compare/big_grid.py first")
    paths = layers()
    print(f"{'layer':<6} {'tool':<22} {'wall s':>8} {'cpu s':>8}")
    for name, path in paths.items():
        print(f"{name:<6} load average {os.getloadavg()[0]:.2f}")
        rows = {}
        walls = {1: float("inf"), 2: float("inf")}
        cpus = {1: float("inf"), 2: float("inf")}
        for _ in range(max(args.runs, 1)):
            for threads in (1, 2):
                out = os.path.join(OUT, f"bmu-big-{name}-{threads}.csv")
                env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
                wall, cpu, _ = timed([BMU, "population", "--grid", GRID, "--polygons", path, "--id-field", "id",
                                      "--out", out, "--quiet"], env)
                walls[threads] = min(walls[threads], wall)
                cpus[threads] = min(cpus[threads], cpu)
                with open(out) as f:
                    rows[threads] = {r["id"]: float(r["population_exact"]) for r in csv.DictReader(f)}
        for threads in (1, 2):
            print(f"{name:<6} {'bmu ' + str(threads) + ' thread(s)':<22} {walls[threads]:8.2f} {cpus[threads]:8.2f}")
        if rows[1] != rows[2]:
            sys.exit(f"{name}: bmu sums differ between 1 and 2 threads")
        print(f"{name:<6} 1 -> 2 threads {walls[1] / walls[2]:.2f}x (best of {max(args.runs, 1)})")
        if args.skip_peer:
            continue
        wall, cpu, out = timed([PEERS, "-c", PEER, GRID, path])
        peer = json.loads(out)
        print(f"{name:<6} {'exactextract (whole)':<22} {wall:8.2f} {cpu:8.2f}")
        print(f"{name:<6} {'exactextract (call)':<22} {peer['call']:8.2f}")
        worst = max(abs(rows[1][i] - s) / max(abs(s), 1.0) for i, s in peer["sums"].items())
        if worst > 1e-9:
            sys.exit(f"{name}: bmu and exactextract sums differ (worst relative {worst:.2e})")
        print(f"{name:<6} bmu 2 threads / exactextract whole {walls[2] / wall:.3f}; sums agree (worst relative "
              f"{worst:.1e})")


if __name__ == "__main__":
    main()

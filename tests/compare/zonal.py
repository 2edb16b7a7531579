#!/usr/bin/env python3
"""`bmu population` as a whole process against exactextract, on Shanghai-sized population grids.

Builds, under $BMU_ZONAL_DIR (default /tmp/bmu-bench-zonal):
  polygons.geojson            the township polygons of Shanghai (shared/realdata/stockard-shanghai-covid-2022) with
                              area > 0.05 km², id `rec`, lon/lat as published
  polygons_densified.geojson  the same with every edge cut to <= 0.00025 deg (geo's `Euclidean.densify`: n =
                              ceil(len / max), points start + diff * i/n): bmu cuts an edge only where its projected
                              curve strays > 1 mm from the chord, so both integrate polygons within 1 mm of each other
  worldpop_4326.tif           WorldPop format: EPSG:4326, 3 arc-seconds, float32, nodata -99999, LZW strips (1365 x 1455 = 1.99 M cells)
  ghs_54009.tif               GHS-POP format: World Mollweide (ESRI:54009), 100 m, float32, nodata -200, Deflate tiles
                              of 256 x 256 (1918 x 1414 = 2.71 M cells)
Cell values are synthetic, seeded (SEED below): 60 Gaussian town centres over a gamma(0.5, 2) background, 1 % of
the cells nodata. Nothing here is real population.

Then, per grid:
  * exactextract 0.3 (PyPI) through /work/shared/tools/peers-zonal, for its per-polygon sums (and 3 timed calls).
  * exactextract as a whole `python` process on polygons.geojson (read, reproject, exact_extract, write CSV), N
    times: the "process" time is the best wall time of those, the "in-process" time the best `exact_extract(raster,
    gdf, 'sum')` call alone — polygons already read and reprojected — over those N runs and peers-zonal's 3 calls:
    the peer's most favourable figure.
  * `bmu population --grid G --polygons polygons.geojson --id-field rec --out O.csv` as a whole process (release
    build) with RAYON_NUM_THREADS=2 and =1, alternating with the exactextract process; best of N (default 10) wall
    times each. "load avg" is the highest 1-minute load average seen before any of these runs.
  * per-polygon sums compared with exactextract's.

Which polygons the peer gets: on the EPSG:4326 grid the polygons are already in the grid's CRS, so bmu does not
densify (identity transform) and both read polygons.geojson. On the Mollweide grid bmu densifies the lon/lat edges
before projecting (adaptively, to 1 mm), while geopandas' `to_crs` moves vertices only; the peer is given
polygons_densified.geojson for the comparison of sums, so both integrate the same projected polygons to 1 mm (the timing
is still taken on polygons.geojson). bmu always reads the original file.

usage: /work/shared/tools/peers-setup      # once: /tmp/bmu-peers with exactextract, rasterio, geopandas
       CARGO_TARGET_DIR=/work/target-bench cargo build --release
       /tmp/bmu-peers/bin/python tests/compare/zonal.py [--skip-build] [--runs N (10)] [--json results.json]
The bmu binary is $BMU_BIN, else $CARGO_TARGET_DIR/release/bmu (default target dir: target/).
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import geopandas as gpd
import rasterio
import shapely
from rasterio.transform import from_origin
from pyproj import Transformer

SEED = 20240601
OUT = os.environ.get("BMU_ZONAL_DIR", "/tmp/bmu-bench-zonal")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STREETS = "/work/shared/realdata/stockard-shanghai-covid-2022/shanghai_street_labeled.geojson"
PEERS = "/work/shared/tools/peers-zonal"
PEERS_PY = os.environ.get("PEERS_PY", "/tmp/bmu-peers/bin/python")
# bmu's DENSIFY_DEG (src/population/source.rs): longest lon/lat edge before transforming into the grid's CRS.
DENSIFY_DEG = 0.00025
MOLL_WKT = ('PROJCS["World_Mollweide",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
            'PRIMEM["Greenwich",0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mollweide"],'
            'PARAMETER["central_meridian",0],PARAMETER["false_easting",0],PARAMETER["false_northing",0],'
            'UNIT["metre",1],AUTHORITY["ESRI","54009"]]')
GRIDS = [
    # name, polygons given to exactextract
    ("worldpop_4326", "polygons.geojson"),
    ("ghs_54009", "polygons_densified.geojson"),
]


def synthetic_population(rng, height, width, nodata):
    """People per cell: Gaussian town centres over a sparse gamma background, ~1 % nodata cells."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    density = np.zeros((height, width), dtype=np.float32)
    for _ in range(60):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        sigma = rng.uniform(10, 80)
        density += rng.uniform(5, 120) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
    values = (density + rng.gamma(0.5, 2.0, size=(height, width))).astype(np.float32)
    values[rng.random((height, width)) < 0.01] = nodata
    return values


def densify_ring(coords, max_len):
    """geo 0.33 `Euclidean.densify`: each edge cut into ceil(len / max_len) equal pieces, start + (end - start) * r."""
    out = [tuple(coords[0])]
    for (x0, y0), (x1, y1) in zip(coords[:-1], coords[1:]):
        dx, dy = x1 - x0, y1 - y0
        n = math.ceil(math.hypot(dx, dy) / max_len)
        frac = 1.0 / n if n > 0 else 1.0
        for i in range(1, n):
            r = frac * i
            out.append((x0 + dx * r, y0 + dy * r))
        out.append((x1, y1))
    return out


def densify(geom, max_len):
    polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    out = [shapely.Polygon(densify_ring(list(p.exterior.coords), max_len),
                           [densify_ring(list(h.coords), max_len) for h in p.interiors]) for p in polys]
    return shapely.MultiPolygon(out) if geom.geom_type == "MultiPolygon" else out[0]


def build():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    streets = gpd.read_file(STREETS)
    area_km2 = streets.to_crs("EPSG:32651").area / 1e6
    polys = streets[area_km2 > 0.05][["rec", "geometry"]].reset_index(drop=True)
    polys.to_file(os.path.join(OUT, "polygons.geojson"), driver="GeoJSON")
    dense = polys.copy()
    dense["geometry"] = [densify(g, DENSIFY_DEG) for g in polys.geometry]
    dense.to_file(os.path.join(OUT, "polygons_densified.geojson"), driver="GeoJSON", COORDINATE_PRECISION=15)
    nv = lambda gs: sum(shapely.get_num_coordinates(g) for g in gs)
    print(f"{len(polys)} township polygons with area > 0.05 km² (of {len(streets)}); "
          f"{nv(polys.geometry)} vertices, {nv(dense.geometry)} after densifying to {DENSIFY_DEG}°")

    # WorldPop: 3 arc-seconds over the polygons' extent, snapped to the WorldPop lattice.
    arc3 = 1.0 / 1200.0
    w, s, e, n = polys.total_bounds
    w, s = np.floor(w * 1200) / 1200 - 10 * arc3, np.floor(s * 1200) / 1200 - 10 * arc3
    e, n = np.ceil(e * 1200) / 1200 + 10 * arc3, np.ceil(n * 1200) / 1200 + 10 * arc3
    width, height = int(round((e - w) / arc3)), int(round((n - s) / arc3))
    values = synthetic_population(rng, height, width, -99999.0)
    with rasterio.open(os.path.join(OUT, "worldpop_4326.tif"), "w", driver="GTiff", width=width, height=height,
                       count=1, dtype="float32", crs="EPSG:4326", transform=from_origin(w, n, arc3, arc3),
                       nodata=-99999.0, compress="lzw") as dst:
        dst.write(values, 1)
    print(f"worldpop_4326.tif: {width} x {height} = {width * height / 1e6:.2f} M cells")

    # GHS-POP: 100 m Mollweide over the same extent.
    to_moll = Transformer.from_crs("EPSG:4326", MOLL_WKT, always_xy=True)
    xs, ys = to_moll.transform([w, e, w, e], [s, s, n, n])
    x0, x1 = np.floor(min(xs) / 100) * 100, np.ceil(max(xs) / 100) * 100
    y0, y1 = np.floor(min(ys) / 100) * 100, np.ceil(max(ys) / 100) * 100
    width, height = int((x1 - x0) / 100), int((y1 - y0) / 100)
    values = synthetic_population(rng, height, width, -200.0)
    with rasterio.open(os.path.join(OUT, "ghs_54009.tif"), "w", driver="GTiff", width=width, height=height,
                       count=1, dtype="float32", crs=MOLL_WKT, transform=from_origin(x0, y1, 100, 100),
                       nodata=-200.0, compress="deflate", tiled=True, blockxsize=256, blockysize=256) as dst:
        dst.write(values, 1)
    print(f"ghs_54009.tif: {width} x {height} = {width * height / 1e6:.2f} M cells")


# A whole exactextract process, as a user would run it: read, reproject, extract, write. It prints the time of the
# `exact_extract` call alone, the figure peers-zonal reports.
EE_PROCESS = """
import sys, time, warnings
warnings.filterwarnings('ignore')
import geopandas as gpd, rasterio
from exactextract import exact_extract
ras, polys, out = sys.argv[1:4]
g = gpd.read_file(polys)
with rasterio.open(ras) as r:
    crs = r.crs
if g.crs != crs:
    g = g.to_crs(crs)
t = time.perf_counter()
df = exact_extract(ras, g, 'sum', include_cols=['rec'], output='pandas')
print(time.perf_counter() - t)
df.to_csv(out, index=False)
"""


def best_of(runs, argv, env=None):
    """Best wall time of `runs` runs of a process, the 1-minute load average seen before each run, and the best of
    the float each run printed last on stdout (if any)."""
    times, loads, inner = [], [], []
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        t = time.perf_counter()
        p = subprocess.run(argv, env=env, check=True, stdout=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - t)
        lines = p.stdout.split()
        if lines:
            try:
                inner.append(float(lines[-1]))
            except ValueError:
                pass
    return min(times), loads, min(inner) if inner else None


def bmu_binary():
    if os.environ.get("BMU_BIN"):
        return os.environ["BMU_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    path = os.path.join(target, "release", "bmu")
    if not os.path.exists(path):
        subprocess.run(["cargo", "build", "--release", "--bin", "bmu"], cwd=REPO, check=True)
    return path


def read_bmu_csv(path):
    sums = {}
    with open(path) as f:
        header = f.readline().strip().split(",")
        # `population` is rounded to two decimals for people to read; the unrounded sum is `population_exact`.
        i = header.index("population_exact") if "population_exact" in header else header.index("population")
        for line in f:
            cells = line.rstrip("\n").split(",")
            sums[cells[0]] = float(cells[i])
    return sums


def main():
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 10
    json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    if "--skip-build" not in sys.argv:
        build()
    bmu = bmu_binary()
    results = {"machine": {"cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}, "grids": {}}
    ee_script = os.path.join(tempfile.mkdtemp(), "ee_process.py")
    with open(ee_script, "w") as f:
        f.write(EE_PROCESS)
    for grid, peer_polygons in GRIDS:
        raster = os.path.join(OUT, f"{grid}.tif")
        # Timing: exactextract on the polygons as published (what a user runs). Agreement: on `peer_polygons`.
        peers = {}
        for polygons in dict.fromkeys(["polygons.geojson", peer_polygons]):
            peer_json = os.path.join(OUT, f"peers_{grid}_{polygons.split('.')[0]}.json")
            subprocess.run([PEERS, raster, os.path.join(OUT, polygons), "rec", peer_json], check=True,
                           stdout=subprocess.DEVNULL)
            peers[polygons] = json.load(open(peer_json))
        ee = peers[peer_polygons]["exactextract"]
        # Times: N exactextract processes and N bmu processes, alternating so that a burst of load elsewhere hits
        # both alike; in-process: the best `exact_extract` call over those N processes and peers-zonal's 3 calls.
        ee_argv = [PEERS_PY, ee_script, raster, os.path.join(OUT, "polygons.geojson"),
                   os.path.join(OUT, f"ee_{grid}.csv")]
        bmu_argv = [bmu, "population", "--grid", raster, "--polygons", os.path.join(OUT, "polygons.geojson"),
                    "--id-field", "rec", "--out", None, "--quiet"]
        ee_times, ee_inner, bmu_times, loads = [], [peers["polygons.geojson"]["seconds"]["exactextract"]], \
            {1: [], 2: []}, []
        for _ in range(runs):
            t, load, inner = best_of(1, ee_argv)
            ee_times.append(t)
            ee_inner.append(inner)
            loads += load
            for threads in (2, 1):
                bmu_argv[-2] = os.path.join(OUT, f"bmu_{grid}_t{threads}.csv")
                t, load, _ = best_of(1, bmu_argv, dict(os.environ, RAYON_NUM_THREADS=str(threads)))
                bmu_times[threads].append(t)
                loads += load
        row = {"cells": None, "exactextract_s": min(ee_inner), "exactextract_process_s": min(ee_times),
               "exactextract_agreement_polygons_s": peers[peer_polygons]["seconds"]["exactextract"],
               "bmu_t2_s": min(bmu_times[2]), "bmu_t1_s": min(bmu_times[1]), "load": max(loads)}
        with rasterio.open(raster) as r:
            row["cells"] = r.width * r.height
        ours = read_bmu_csv(os.path.join(OUT, f"bmu_{grid}_t2.csv"))
        assert read_bmu_csv(os.path.join(OUT, f"bmu_{grid}_t1.csv")) == ours, "sums differ between 1 and 2 threads"
        rel = {k: abs(ours[k] - v) / max(abs(v), 1e-9) for k, v in ee.items()}
        worst = max(rel, key=rel.get)
        row.update(polygons=len(ee), max_rel=rel[worst], worst_rec=worst,
                   median_rel=float(np.median(list(rel.values()))),
                   above_1e6=sum(r > 1e-6 for r in rel.values()),
                   total_ee=sum(ee.values()), total_bmu=sum(ours[k] for k in ee))
        results["grids"][grid] = row
        print(f"\n{grid}: {row['cells'] / 1e6:.2f} M cells, {len(ee)} polygons "
              f"(exactextract given {peer_polygons}); total {row['total_ee']:.1f} (exactextract) "
              f"vs {row['total_bmu']:.1f} (bmu)")
        print(f"  per-polygon relative difference: max {row['max_rel']:.1e} (rec {worst}), "
              f"median {row['median_rel']:.1e}, {row['above_1e6']} above 1e-6")
    print(f"\nbest of {runs} wall times, {os.cpu_count()} cores, {results['machine']['date']}")
    print("| grid | cells | exactextract (in-process) | exactextract (process) | bmu, 2 threads | bmu, 1 thread "
          "| bmu 2 thr / exactextract | speed-up 1→2 threads | max rel. diff | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for grid, r in results["grids"].items():
        print(f"| {grid} | {r['cells'] / 1e6:.2f} M | {r['exactextract_s'] * 1e3:.0f} ms "
              f"| {r['exactextract_process_s'] * 1e3:.0f} ms | {r['bmu_t2_s'] * 1e3:.0f} ms "
              f"| {r['bmu_t1_s'] * 1e3:.0f} ms | {r['bmu_t2_s'] / r['exactextract_s']:.2f} "
              f"| {r['bmu_t1_s'] / r['bmu_t2_s']:.2f}× | {r['max_rel']:.1e} | {r['load']:.1f} |")
    if json_out:
        with open(json_out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

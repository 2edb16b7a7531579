#!/usr/bin/env python3
"""`bmu validate` on the whole of Shanghai as a whole process, and how its time grows with 2x and 4x the units.

Builds, under $BMU_VALIDATE_DIR (default /tmp/bmu-bench-validate), one folder per tiling factor k (1, 2, 4):
  town.geojson        the 16 districts of shared/realdata/dawn-ecnu-example-data/shanghai_boundary.geojson (bmu
                      dissolves them into the city outline, as it does any multi-feature town layer)
  units.geojson       the township polygons (shared/realdata/stockard-shanghai-covid-2022) with area > 0.05 km², id
                      `rec`, less the 6 that lie wholly outside the district outline (bmu refuses those): 240 units,
                      real, so they leave real gaps, overlaps and spill against the outline
  population.tif      WorldPop format (EPSG:4326, 3 arc-seconds, float32, nodata -99999, LZW), ~2.2 M cells over the
                      city; values synthetic and seeded (tests/compare/zonal.py's generator: Gaussian towns over a
                      gamma background, 1 % nodata)
  facilities.geojson  1,000 synthetic points (seeded, uniform in the city outline), types cycling over the "3+3"
                      vocabulary (affairs, health, culture, police, urban_management, market_supervision), status
                      `existing` (70 %) or `planned`
  roads.geojson       the OSM road LineStrings of shared/realdata/osm-signal-intersections-evdata/intersections.geojson
                      with their nested `tags` (class from tags.highway)
For k > 1 every layer is tiled: copy j is shifted east by j times the grid's width (the city's width rounded up to
whole 3" cells, plus a 10-cell margin each side), so the copies sit side by side on one grid k times as wide.

Then times the process (best of N, default 3, with the 1-minute load average before each run)
  bmu validate --town town.geojson --units units.geojson --id-field rec --population population.tif \
      --features roads.geojson --facilities facilities.geojson --quiet
and prints a table; with BMU_VALIDATE_TIMINGS=1 bmu runs with -vv and prints the time of each step on stderr.

usage: /tmp/bmu-peers/bin/python tests/compare/validate_scale.py [--skip-build] [--runs N] [--factors 1,2,4]
       [--json results.json]        (the bmu binary: $BMU_BIN, else $CARGO_TARGET_DIR/release/bmu)
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zonal import synthetic_population, bmu_binary  # noqa: E402

SEED = 20240602
OUT = os.environ.get("BMU_VALIDATE_DIR", "/tmp/bmu-bench-validate")
REAL = "/work/shared/realdata"
DISTRICTS = f"{REAL}/dawn-ecnu-example-data/shanghai_boundary.geojson"
STREETS = f"{REAL}/stockard-shanghai-covid-2022/shanghai_street_labeled.geojson"
ROADS = f"{REAL}/osm-signal-intersections-evdata/intersections.geojson"
TYPES = ["affairs", "health", "culture", "police", "urban_management", "market_supervision"]
ARC3 = 1.0 / 1200.0


def shifted(geometry, dx):
    """A GeoJSON geometry moved east by dx degrees."""
    g = shapely.geometry.shape(geometry)
    return shapely.geometry.mapping(shapely.transform(g, lambda c: c + np.array([dx, 0.0])))


def collection(features):
    return {"type": "FeatureCollection", "features": features}


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, ensure_ascii=False)


def build(factors):
    rng = np.random.default_rng(SEED)
    districts = json.load(open(DISTRICTS))["features"]
    city = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in districts])
    streets = json.load(open(STREETS))["features"]
    # Area > 0.05 km², measured as zonal.py does (UTM 51N), here with a local equal-area approximation.
    from pyproj import Geod
    geod = Geod(ellps="WGS84")
    units = [f for f in streets if abs(geod.geometry_area_perimeter(shapely.geometry.shape(f["geometry"]))[0]) > 5e4]
    # bmu refuses a unit that shares no area with the town (exit 2: wrong CRS or wrong town); six township polygons
    # lie wholly outside the district outline (rec 228, 229, 230, 237, 242, 248) and are left out.
    outside = [f["properties"]["rec"] for f in units
               if city.intersection(shapely.geometry.shape(f["geometry"])).area <= 0.0]
    units = [f for f in units if f["properties"]["rec"] not in outside]
    roads = [f for f in json.load(open(ROADS))["features"] if f["geometry"]["type"] == "LineString"]

    w, s, e, n = city.bounds
    w, s = np.floor(w * 1200) / 1200 - 10 * ARC3, np.floor(s * 1200) / 1200 - 10 * ARC3
    e, n = np.ceil(e * 1200) / 1200 + 10 * ARC3, np.ceil(n * 1200) / 1200 + 10 * ARC3
    width, height = int(round((e - w) / ARC3)), int(round((n - s) / ARC3))
    values = synthetic_population(rng, height, width, -99999.0)
    shift = width * ARC3

    facilities = []
    prepared = shapely.prepared.prep(city)
    while len(facilities) < 1000:
        x, y = rng.uniform(w, e), rng.uniform(s, n)
        if prepared.contains(shapely.Point(x, y)):
            i = len(facilities)
            facilities.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                               "properties": {"id": f"F{i:04d}", "type": TYPES[i % len(TYPES)],
                                              "status": "existing" if rng.random() < 0.7 else "planned"}})
    print(f"{len(units)} units (of {len(streets)} township polygons; outside the outline: {outside}), {len(districts)} districts, {len(roads)} roads, "
          f"{len(facilities)} facilities; grid {width} x {height} = {width * height / 1e6:.2f} M cells, "
          f"tile shift {shift:.4f}°")

    for k in factors:
        d = os.path.join(OUT, f"k{k}")
        os.makedirs(d, exist_ok=True)

        def tiled(features, id_key=None):
            out = []
            for j in range(k):
                for f in features:
                    props = dict(f["properties"])
                    if id_key and j > 0:
                        props[id_key] = f"{props[id_key]}_{j}" if isinstance(props[id_key], str) \
                            else props[id_key] + 100000 * j
                    out.append({"type": "Feature", "properties": props, "geometry": shifted(f["geometry"], j * shift)})
            return out

        town = [{"type": "Feature", "properties": {"district": f["properties"]["县名"]}, "geometry": f["geometry"]}
                for f in districts]
        write(os.path.join(d, "town.geojson"), collection(tiled(town)))
        write(os.path.join(d, "units.geojson"),
              collection(tiled([{"type": "Feature", "properties": {"rec": f["properties"]["rec"]},
                                 "geometry": f["geometry"]} for f in units], "rec")))
        write(os.path.join(d, "facilities.geojson"), collection(tiled(facilities, "id")))
        write(os.path.join(d, "roads.geojson"),
              collection(tiled([{"type": "Feature", "properties": {"way_id": f["properties"]["way_id"],
                                                                    "tags": f["properties"]["tags"]},
                                 "geometry": f["geometry"]} for f in roads])))
        with rasterio.open(os.path.join(d, "population.tif"), "w", driver="GTiff", width=width * k, height=height,
                           count=1, dtype="float32", crs="EPSG:4326", transform=from_origin(w, n, ARC3, ARC3),
                           nodata=-99999.0, compress="lzw") as dst:
            dst.write(np.tile(values, (1, k)), 1)
        print(f"k{k}: {len(units) * k} units, {width * k * height / 1e6:.2f} M cells")


def run(bmu, k, runs, extra=()):
    d = os.path.join(OUT, f"k{k}")
    argv = [bmu, "validate", "--town", f"{d}/town.geojson", "--units", f"{d}/units.geojson", "--id-field", "rec",
            "--population", f"{d}/population.tif", "--features", f"{d}/roads.geojson",
            "--facilities", f"{d}/facilities.geojson",
            "-vv" if os.environ.get("BMU_VALIDATE_TIMINGS") else "--quiet", *extra]
    times, loads = [], []
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        t = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - t)
        if p.returncode not in (0, 1):
            sys.exit(f"bmu validate exited {p.returncode}: {p.stderr}")
        if os.environ.get("BMU_VALIDATE_TIMINGS"):
            print(p.stderr, end="")
    return min(times), max(loads)


def main():
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    factors = [int(x) for x in (sys.argv[sys.argv.index("--factors") + 1] if "--factors" in sys.argv
                                else "1,2,4").split(",")]
    json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    if "--skip-build" not in sys.argv:
        build(factors)
    bmu = bmu_binary()
    rows = []
    for k in factors:
        units = len(json.load(open(os.path.join(OUT, f"k{k}", "units.geojson")))["features"])
        with rasterio.open(os.path.join(OUT, f"k{k}", "population.tif")) as r:
            cells = r.width * r.height
        t, load = run(bmu, k, runs)
        rows.append({"k": k, "units": units, "cells": cells, "seconds": t, "load": load})
        print(f"k{k}: {units} units, best of {runs}: {t:.2f} s (load {load:.1f})", flush=True)
    base = rows[0]
    print(f"\nbest of {runs}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}")
    print("| tiling | units | grid cells | wall time | × time of 1× | time per unit | load avg |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['k']}× | {r['units']} | {r['cells'] / 1e6:.1f} M | {r['seconds']:.2f} s "
              f"| {r['seconds'] / base['seconds']:.2f} | {r['seconds'] / r['units'] * 1e3:.1f} ms | {r['load']:.1f} |")
    if json_out:
        with open(json_out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

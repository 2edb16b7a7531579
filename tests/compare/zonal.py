#!/usr/bin/env python3
"""Compares bmu's exact zonal sums with exactextract (and rasterstats) on Shanghai-sized population grids.

Builds, under $BMU_ZONAL_DIR (default /tmp/bmu-zonal):
  worldpop_4326.tif  WorldPop-format grid: EPSG:4326, 3 arc-seconds, float32, nodata -99999, LZW strips (~2 M cells)
  ghs_54009.tif      GHS-POP-format grid: World Mollweide (ESRI:54009), 100 m, float32, nodata -200, Deflate tiles
  polygons.geojson   the township polygons of Shanghai with area > 0.05 km² (id: `rec`), lon/lat
Values are synthetic (seeded): towns as Gaussian bumps over a gamma-distributed background, a few nodata cells.
Then runs /work/shared/tools/peers-zonal on each grid, and bmu through its Criterion bench in compare mode
(BMU_ZONAL_DIR set: it writes bmu_<grid>.json with per-polygon sums and best-of-3 timings at 1 and 2 threads),
and prints the agreement and the timings.

usage: /work/shared/tools/peers-setup        # once: /tmp/bmu-peers with exactextract, rasterio, geopandas
       /tmp/bmu-peers/bin/python tests/compare/zonal.py [--skip-build]
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import geopandas as gpd
import rasterio
from rasterio.transform import from_origin
from pyproj import Transformer

SEED = 20240601
OUT = os.environ.get("BMU_ZONAL_DIR", "/tmp/bmu-zonal")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STREETS = "/work/shared/realdata/stockard-shanghai-covid-2022/shanghai_street_labeled.geojson"
PEERS = "/work/shared/tools/peers-zonal"
MOLL_WKT = ('PROJCS["World_Mollweide",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
            'PRIMEM["Greenwich",0],UNIT["Degree",0.0174532925199433]],PROJECTION["Mollweide"],'
            'PARAMETER["central_meridian",0],PARAMETER["false_easting",0],PARAMETER["false_northing",0],'
            'UNIT["metre",1],AUTHORITY["ESRI","54009"]]')


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


def build():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    streets = gpd.read_file(STREETS)
    area_km2 = streets.to_crs("EPSG:32651").area / 1e6
    polys = streets[area_km2 > 0.05][["rec", "geometry"]].reset_index(drop=True)
    polys.to_file(os.path.join(OUT, "polygons.geojson"), driver="GeoJSON")
    print(f"{len(polys)} township polygons with area > 0.05 km² (of {len(streets)})")

    # WorldPop: 3 arc-seconds over Shanghai's extent, snapped to the WorldPop lattice.
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


def main():
    if "--skip-build" not in sys.argv:
        build()
    polygons = os.path.join(OUT, "polygons.geojson")
    grids = ["worldpop_4326", "ghs_54009"]
    for grid in grids:
        subprocess.run([PEERS, os.path.join(OUT, f"{grid}.tif"), polygons, "rec",
                        os.path.join(OUT, f"peers_{grid}.json")], check=True)
    env = dict(os.environ, BMU_ZONAL_DIR=OUT, CARGO_TARGET_DIR=os.environ.get("CARGO_TARGET_DIR", "/work/target-grid"))
    t = time.perf_counter()
    # Criterion's own runs are skipped unless BMU_ZONAL_CRITERION is set: the JSON timings are best of 3.
    bench_filter = "compare" if os.environ.get("BMU_ZONAL_CRITERION") else "no-criterion-run"
    subprocess.run(["cargo", "bench", "--bench", "population", "--", "--noplot", bench_filter], cwd=REPO, env=env,
                   check=True)
    print(f"(cargo bench took {time.perf_counter() - t:.0f} s)")
    # ghs_54009: polygons moved vertex by vertex into Mollweide, as geopandas' to_crs does for the peers;
    # ghs_54009_densified: edges cut to ~100 m before projecting (what bmu should do), so sums differ by design.
    for grid, name in [("worldpop_4326", "worldpop_4326"), ("ghs_54009", "ghs_54009"),
                       ("ghs_54009", "ghs_54009_densified")]:
        peers = json.load(open(os.path.join(OUT, f"peers_{grid}.json")))
        bmu = json.load(open(os.path.join(OUT, f"bmu_{name}.json")))
        ee, rs, ours = peers["exactextract"], peers["rasterstats"], bmu["population"]
        rel = []
        for k, v in ee.items():
            b = ours[k]
            rel.append(abs(b - v) / max(abs(v), 1e-9))
        rel = np.array(rel)
        worst = max(ee, key=lambda k: abs(ours[k] - ee[k]) / max(abs(ee[k]), 1e-9))
        rs_rel = np.array([abs(rs[k] - ee[k]) / max(abs(ee[k]), 1e-9) for k in ee])
        t_ee = peers["seconds"]["exactextract"]
        t1, t2 = bmu["seconds"]["threads_1"], bmu["seconds"]["threads_2"]
        print(f"\n{name}: {len(ee)} polygons, total {sum(ee.values()):.1f} (exactextract) vs {sum(ours.values()):.1f} (bmu)")
        print(f"  bmu vs exactextract, per-polygon relative difference: max {rel.max():.2e} (rec {worst}), "
              f"median {np.median(rel):.2e}, {int((rel > 1e-6).sum())} polygons above 1e-6")
        print(f"  rasterstats (cell centres) vs exactextract: max {rs_rel.max():.2e}, median {np.median(rs_rel):.2e}")
        print(f"  time: exactextract {t_ee * 1000:.1f} ms (best of 3), rasterstats {peers['seconds']['rasterstats'] * 1000:.0f} ms, "
              f"bmu {t1 * 1000:.1f} ms at 1 thread, {t2 * 1000:.1f} ms at 2 threads "
              f"(bmu/exactextract {t1 / t_ee:.2f} at 1 thread, {t2 / t_ee:.2f} at 2; speed-up 1→2 threads {t1 / t2:.2f}x)")


if __name__ == "__main__":
    main()

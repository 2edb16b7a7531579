#!/usr/bin/env python3
"""A 10^8-cell population grid for measuring what `bmu population` reads: peak memory and time over one town.

Writes $BMU_BIG_GRID (default /tmp/bmu-big-grid.tif): 10 000 x 10 000 cells of 3 arc-seconds (WorldPop's format:
EPSG:4326, float32, nodata -99999) centred on Shanghai, Deflate, 256 x 256 tiles, written block by block so the
generator itself stays small. Values are seeded (SEED) integers 0..49 stored as float32 — synthetic, not
population. Needs rasterio and numpy (e.g. a venv with `pip install rasterio numpy`).

Then measure, from the repository root, with the release binary:

    /usr/bin/time -v target/release/bmu population --grid /tmp/bmu-big-grid.tif \
        --polygons data/jiangqiao/town.geojson --out /tmp/bmu-big-town.csv

and read "Maximum resident set size" and "Elapsed (wall clock) time". The town covers about 0.01 % of the grid;
a reader bounded by the window stays far below the 400 MB a whole float32 grid would take.
"""
import os

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

SEED = 20261206
SIZE = 10_000
CELL = 1 / 1200  # 3 arc-seconds


def main() -> None:
    path = os.environ.get("BMU_BIG_GRID", "/tmp/bmu-big-grid.tif")
    rng = np.random.default_rng(SEED)
    profile = dict(
        driver="GTiff",
        width=SIZE,
        height=SIZE,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(121.5 - SIZE / 2 * CELL, 31.2 + SIZE / 2 * CELL, CELL, CELL),
        nodata=-99999.0,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
    )
    with rasterio.open(path, "w", **profile) as dst:
        band = 1024
        for row in range(0, SIZE, band):
            h = min(band, SIZE - row)
            block = rng.integers(0, 50, size=(h, SIZE)).astype("float32")
            dst.write(block, 1, window=Window(0, row, SIZE, h))
    print(f"{path}: {SIZE} x {SIZE} cells, {os.path.getsize(path) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()

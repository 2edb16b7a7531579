#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs (tests/fuzz/seeds/<target>/) from the bad-input corpus and the demo area.

Seeds are small valid and nearly valid inputs, so the fuzzers start deep in the readers instead of rediscovering
JSON, TOML, the Shapefile header and the TIFF layout. Shapefile seeds use the `shapefile` target's packing (harness.rs): for
.shp, .dbf, .shx, .prj, .cpg in that order, a little-endian u16 length then the bytes (0 for a missing part).
Run from the repository root: python3 tests/fuzz/make_seeds.py
"""

import glob
import hashlib
import os
import struct
from pathlib import Path

SEEDS = Path("tests/fuzz/seeds")


def put(target, data):
    (SEEDS / target).mkdir(parents=True, exist_ok=True)
    (SEEDS / target / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def main():
    for p in sorted(glob.glob("data/cases/bad/*/*.geojson")) + [
        "data/jiangqiao/metro_stations.geojson",
        "data/jiangqiao/parks.geojson",
    ]:
        if os.path.isfile(p) and os.path.getsize(p) < 8192:
            put("geojson", Path(p).read_bytes())
    for p in sorted(glob.glob("data/cases/bad/*/bmu.toml")) + ["data/jiangqiao/bmu.toml"]:
        put("bmu_toml", Path(p).read_bytes())
    for shp in sorted(glob.glob("data/cases/bad/*/town.shp")):
        packed = b""
        for ext in ["shp", "dbf", "shx", "prj", "cpg"]:
            f = Path(shp).with_suffix("." + ext)
            data = f.read_bytes()[:65535] if f.exists() else b""
            packed += struct.pack("<H", len(data)) + data
        put("shapefile", packed)
    # GeoTIFF: every fixture grid, good and bad (all under 16 KiB): strips and tiles, each sample type and codec.
    for p in sorted(glob.glob("data/cases/grids/*.tif")):
        put("geotiff", Path(p).read_bytes())


if __name__ == "__main__":
    main()

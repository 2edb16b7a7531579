#!/usr/bin/env python3
"""bmu's GeoPackage, XLSX, KML, CSV and Shapefile outputs opened by the readers planners' tools use.

GDAL (through pyogrio) opens the GeoPackage, the KML and the Shapefile; openpyxl opens the workbook. Checked: the
CRS each format promises (GeoPackage and Shapefile in the polygons' CRS, here UTM 51N; KML in WGS84), the Chinese
ids intact, and the same populations in every format as in the CSV.

usage: python3 -m venv /tmp/bmu-formats && /tmp/bmu-formats/bin/pip install pyogrio openpyxl
       cargo build --release && /tmp/bmu-formats/bin/python tests/compare/formats.py
Exit 0 when everything matches; prints one line per check.
"""

import csv
import json
import os
import subprocess
import sys
import tempfile

import openpyxl
import pyogrio

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BMU = os.path.join(ROOT, "target", "release", "bmu")
GRID = os.path.join(ROOT, "data", "jiangqiao", "population.synthetic.tif")

# Two 1 km squares in the demo town, UTM 51N (EPSG:32651), named in Chinese.
POLYGONS = {
    "type": "FeatureCollection",
    "crs": {"type": "name", "properties": {"name": "EPSG:32651"}},
    "features": [
        {
            "type": "Feature",
            "properties": {"name": name},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x, 3457000], [x + 1000, 3457000], [x + 1000, 3458000], [x, 3458000], [x, 3457000]]],
            },
        }
        for name, x in [("江桥一片", 337000), ("华江二片", 338000)]
    ],
}

failures = 0


def check(what, ok, detail=""):
    global failures
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + str(detail) if detail else ''}")
    failures += 0 if ok else 1


def main():
    with tempfile.TemporaryDirectory() as d:
        polygons = os.path.join(d, "polygons.geojson")
        with open(polygons, "w", encoding="utf-8") as f:
            json.dump(POLYGONS, f, ensure_ascii=False)
        for ext in ["csv", "gpkg", "xlsx", "kml", "shp"]:
            out = os.path.join(d, f"pop.{ext}")
            run = subprocess.run(
                [BMU, "population", "--grid", GRID, "--polygons", polygons, "--id-field", "name", "--out", out],
                capture_output=True,
                text=True,
            )
            check(f"bmu population --out pop.{ext}", run.returncode == 0, run.stderr.strip())
        with open(os.path.join(d, "pop.csv"), encoding="utf-8") as f:
            expected = {r["id"]: float(r["population"]) for r in csv.DictReader(f)}
        check("CSV ids", sorted(expected) == sorted(["江桥一片", "华江二片"]), list(expected))

        for ext, epsg in [("gpkg", 32651), ("shp", 32651), ("kml", 4326)]:
            path = os.path.join(d, f"pop.{ext}")
            info = pyogrio.read_info(path)
            crs = info["crs"] or ""
            check(f"{ext}: GDAL reads its CRS as EPSG:{epsg}", crs == f"EPSG:{epsg}", crs)
            meta, _, geometry, fields = pyogrio.raw.read(path)
            names = list(meta["fields"])
            # KML keeps attributes in ExtendedData, which GDAL's LIBKML/KML drivers expose as fields.
            id_col = names.index("id") if "id" in names else None
            pop_col = names.index("population") if "population" in names else None
            if id_col is None or pop_col is None:
                check(f"{ext}: id and population fields", False, names)
                continue
            got = {fields[id_col][i]: float(fields[pop_col][i]) for i in range(len(geometry))}
            check(
                f"{ext}: Chinese ids and populations as in the CSV",
                got.keys() == expected.keys() and all(abs(got[k] - expected[k]) <= 1e-6 * max(1, expected[k]) for k in got),
                got,
            )
            check(f"{ext}: every feature has a geometry", all(g is not None for g in geometry))
            if ext == "gpkg":
                check("gpkg: driver", info.get("driver") == "GPKG", info.get("driver"))
                check("gpkg: geometry type", info["geometry_type"] == "MultiPolygon", info["geometry_type"])

        book = openpyxl.load_workbook(os.path.join(d, "pop.xlsx"), read_only=True)
        sheet = book[book.sheetnames[0]]
        rows = list(sheet.iter_rows(values_only=True))
        header = list(rows[0])
        got = {r[header.index("id")]: r[header.index("population")] for r in rows[1:]}
        check("xlsx: sheet name", book.sheetnames == ["pop"], book.sheetnames)
        check(
            "xlsx: Chinese ids and numeric populations as in the CSV",
            got.keys() == expected.keys() and all(isinstance(v, (int, float)) for v in got.values())
            and all(abs(got[k] - expected[k]) <= 1e-9 * max(1, expected[k]) for k in got),
            got,
        )
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

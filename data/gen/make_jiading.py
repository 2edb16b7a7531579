#!/usr/bin/env python3
"""Writes data/jiading/towns.geojson: the township polygons of 嘉定区 (Jiading) from shared/realdata, for the tests
of `bmu batch`.

Source: shared/realdata/stockard-shanghai-covid-2022/shanghai_street_labeled.geojson, the 13 records whose
`inferred_district` is 嘉定区 (two towns, 菊园新区 and 安亭镇, are split over two records each, so 11 towns).
Only the standard library is used; coordinates are rounded to 6 decimals (about 0.1 m), exterior rings turned
counter-clockwise, and the properties reduced to `rec`, `town` (= inferred_town), `town_code` (= town_code_2023)
and `label_purity`. Deterministic: records in `rec` order.

Usage (from the repo root): python3 data/gen/make_jiading.py [--check]
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REAL = os.environ.get("BMU_REALDATA", os.path.join(ROOT, "..", "shared", "realdata"))
SRC = os.path.join(REAL, "stockard-shanghai-covid-2022", "shanghai_street_labeled.geojson")
OUT = os.path.join(ROOT, "data", "jiading", "towns.geojson")


def signed_area(ring):
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:])) / 2


def ring(r, ccw):
    r = [[round(x, 6), round(y, 6)] for x, y in r]
    if (signed_area(r) > 0) != ccw:
        r.reverse()
    return r


def polygon(p):
    return [ring(r, i == 0) for i, r in enumerate(p)]


def main():
    src = json.load(open(SRC, encoding="utf-8"))
    feats = [f for f in src["features"] if f["properties"].get("inferred_district") == "嘉定区"]
    feats.sort(key=lambda f: f["properties"]["rec"])
    lines = []
    for f in feats:
        p = f["properties"]
        g = f["geometry"]
        if g["type"] == "Polygon":
            geom = {"type": "Polygon", "coordinates": polygon(g["coordinates"])}
        else:
            geom = {"type": "MultiPolygon", "coordinates": [polygon(q) for q in g["coordinates"]]}
        props = {"rec": p["rec"], "town": p["inferred_town"], "town_code": p["town_code_2023"],
                 "label_purity": p["label_purity"]}
        lines.append(json.dumps({"type": "Feature", "properties": props, "geometry": geom},
                                ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    if "--check" in sys.argv:
        same = open(OUT, encoding="utf-8").read() == text
        print("same" if same else "DIFFERENT")
        sys.exit(0 if same else 1)
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"{len(lines)} records -> {OUT}")


if __name__ == "__main__":
    main()

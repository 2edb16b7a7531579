#!/usr/bin/env python3
"""Writes the input files of the bad-input corpus (data/cases/bad/<case>/).

The expectations live in cases.toml, written by hand; this script only makes the inputs, so that binary ones
(Shapefiles, GBK text, garbage) are reproducible and reviewable. Standard library only. Run from anywhere:

    python3 data/cases/bad/make_cases.py

Every case is a small square town near 江桥镇 (lon 121.30–121.32, lat 31.23–31.25) with one thing wrong.
"""

import json
import random
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent

# A valid town ring, counter-clockwise, closed.
SQUARE = [[121.30, 31.23], [121.32, 31.23], [121.32, 31.25], [121.30, 31.25], [121.30, 31.23]]
WGS84_WKT = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)


class Link:
    """A symbolic link to `target` where a file is expected (git keeps links as links)."""

    def __init__(self, target):
        self.target = target


def case(name, files):
    d = HERE / name
    d.mkdir(parents=True, exist_ok=True)
    for fname, body in files.items():
        p = d / fname
        if isinstance(body, Link):
            if p.is_symlink() or p.exists():
                p.unlink()
            p.symlink_to(body.target)
        elif body is None:  # a folder where a file is expected
            p.mkdir(exist_ok=True)
            (p / "README.txt").write_text("A folder named like a layer: bmu must refuse it as a layer path.\n")
        elif isinstance(body, (bytes, bytearray)):
            p.write_bytes(body)
        else:
            p.write_text(body, encoding="utf-8")


def feature(geometry, props=None, fid=None):
    f = {"type": "Feature", "properties": props if props is not None else {}, "geometry": geometry}
    if fid is not None:
        f["id"] = fid
    return f


def fc(*features, **extra):
    return json.dumps({"type": "FeatureCollection", **extra, "features": list(features)}, ensure_ascii=False) + "\n"


def polygon(ring):
    return {"type": "Polygon", "coordinates": [ring]}


def town(ring=SQUARE, props=None):
    return fc(feature(polygon(ring), props if props is not None else {"town_code": "310114118", "name": "江桥镇"}))


GOOD_TOWN = town()
TOWN_TOML = '[town]\npath = "town.geojson"\nid_field = "town_code"\nname_field = "name"\n'


def blocks(*pops, ids=None):
    """Four 0.01° blocks tiling the square; `pops` the population values, `ids` the block ids."""
    cells = [(121.30, 31.23), (121.31, 31.23), (121.30, 31.24), (121.31, 31.24)]
    ids = ids or [f"B{i + 1}" for i in range(4)]
    feats = []
    for (x, y), pop, bid in zip(cells, pops, ids):
        ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
        feats.append(feature(polygon(ring), {"block_id": bid, "population": pop}))
    return fc(*feats)


BLOCKS_TOML = TOWN_TOML + '\n[blocks]\npath = "blocks.geojson"\nid_field = "block_id"\npopulation_field = "population"\n'


def facilities(*rows):
    feats = [
        feature({"type": "Point", "coordinates": [121.305 + 0.003 * i, 31.235]}, {"id": fid, "type": t, "status": s})
        for i, (fid, t, s) in enumerate(rows)
    ]
    return fc(*feats)


FACILITIES_TOML = (
    TOWN_TOML
    + '\n[facilities]\npath = "facilities.geojson"\nid_field = "id"\ntype_field = "type"\nstatus_field = "status"\n'
)


# --- Shapefile, by hand (ESRI Shapefile Technical Description, 1998; dBASE III table) ---------------------------


def shp_polygon(rings):
    """(.shp, .shx) bytes of one Polygon record; `rings` lists of (x, y), closed, exterior clockwise."""
    points = [p for r in rings for p in r]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    bbox = struct.pack("<4d", min(xs), min(ys), max(xs), max(ys))
    parts, start = [], 0
    for r in rings:
        parts.append(start)
        start += len(r)
    content = struct.pack("<i", 5) + bbox + struct.pack("<2i", len(rings), len(points))
    content += b"".join(struct.pack("<i", p) for p in parts)
    content += b"".join(struct.pack("<2d", x, y) for x, y in points)
    record = struct.pack(">2i", 1, len(content) // 2) + content

    def header(total_bytes):
        return (
            struct.pack(">7i", 9994, 0, 0, 0, 0, 0, total_bytes // 2)
            + struct.pack("<2i", 1000, 5)
            + bbox
            + struct.pack("<4d", 0, 0, 0, 0)
        )

    shp = header(100 + len(record)) + record
    shx = header(100 + 8) + struct.pack(">2i", 50, len(content) // 2)
    return shp, shx


def dbf(fields, rows):
    """dBASE III bytes: `fields` [(name, type, length, decimals)], `rows` lists of already-encoded bytes values."""
    header_len = 32 + 32 * len(fields) + 1
    record_len = 1 + sum(f[2] for f in fields)
    out = struct.pack("<B3BIHH20x", 0x03, 124, 1, 1, len(rows), header_len, record_len)
    for name, kind, length, dec in fields:
        out += name.encode("ascii").ljust(11, b"\0") + kind.encode("ascii") + b"\0" * 4
        out += struct.pack("<BB", length, dec) + b"\0" * 14
    out += b"\x0d"
    for row in rows:
        out += b" "
        for (name, kind, length, dec), value in zip(fields, row):
            out += value[:length].ljust(length, b" ") if kind == "C" else value[:length].rjust(length, b" ")
    return out + b"\x1a"


# Clockwise exterior (Shapefile convention).
SHP_RING = [(121.30, 31.23), (121.30, 31.25), (121.32, 31.25), (121.32, 31.23), (121.30, 31.23)]
TOWN_FIELDS = [("town_code", "C", 12, 0), ("name", "C", 20, 0)]


def shapefile(stem="town", name_bytes="江桥镇".encode("utf-8"), cpg="UTF-8", prj=WGS84_WKT, shx=True, dbf_file=True):
    shp, shx_bytes = shp_polygon([SHP_RING])
    files = {f"{stem}.shp": shp}
    if shx:
        files[f"{stem}.shx"] = shx_bytes
    if dbf_file:
        files[f"{stem}.dbf"] = dbf(TOWN_FIELDS, [[b"310114118", name_bytes]])
    if prj is not None:
        files[f"{stem}.prj"] = prj
    if cpg is not None:
        files[f"{stem}.cpg"] = cpg
    return files


SHP_TOML = '[town]\npath = "town.shp"\nid_field = "town_code"\nname_field = "name"\n'


def main():
    # Files that are not GeoJSON at all.
    case("empty-file", {"town.geojson": "", "bmu.toml": TOWN_TOML})
    case("whitespace-only", {"town.geojson": "  \n\t\n", "bmu.toml": TOWN_TOML})
    case("truncated-geojson", {"town.geojson": GOOD_TOWN[: len(GOOD_TOWN) // 2], "bmu.toml": TOWN_TOML})
    rng = random.Random(2018)
    case("binary-garbage", {"town.geojson": bytes(rng.randrange(256) for _ in range(512)), "bmu.toml": TOWN_TOML})
    case("not-geojson-json", {"town.geojson": '{"name": "江桥镇", "area": 42.4}\n', "bmu.toml": TOWN_TOML})
    case("unknown-geojson-type", {"town.geojson": '{"type": "Topology", "objects": {}}\n', "bmu.toml": TOWN_TOML})
    case("unsupported-extension", {"town.kml": "<kml/>\n", "bmu.toml": TOWN_TOML.replace("town.geojson", "town.kml")})
    case("utf8-bom-geojson", {"town.geojson": b"\xef\xbb\xbf" + GOOD_TOWN.encode("utf-8"), "bmu.toml": TOWN_TOML})

    # Wrong geometry.
    props = {"town_code": "310114118", "name": "江桥镇"}
    case("linestring-town", {"town.geojson": fc(feature({"type": "LineString", "coordinates": SQUARE}, props)),
                             "bmu.toml": TOWN_TOML})
    case("point-town", {"town.geojson": fc(feature({"type": "Point", "coordinates": [121.31, 31.24]}, props)),
                        "bmu.toml": TOWN_TOML})
    case("empty-featurecollection", {"town.geojson": fc(), "bmu.toml": TOWN_TOML})
    case("null-town-geometry", {"town.geojson": fc(feature(None, props)), "bmu.toml": TOWN_TOML})
    case("unclosed-ring", {"town.geojson": town(SQUARE[:-1]), "bmu.toml": TOWN_TOML})
    bowtie = [[121.30, 31.23], [121.32, 31.25], [121.32, 31.23], [121.30, 31.25], [121.30, 31.23]]
    case("bowtie-town", {"town.geojson": town(bowtie), "bmu.toml": TOWN_TOML})
    hole_outside = {"type": "Polygon", "coordinates": [
        SQUARE, [[121.40, 31.40], [121.41, 31.40], [121.41, 31.41], [121.40, 31.41], [121.40, 31.40]]]}
    case("hole-outside-town", {"town.geojson": fc(feature(hole_outside, props)), "bmu.toml": TOWN_TOML})
    case("too-few-points-ring", {"town.geojson": town([[121.30, 31.23], [121.32, 31.25], [121.30, 31.23]]),
                                 "bmu.toml": TOWN_TOML})
    case("short-position", {"town.geojson": town([[121.30, 31.23], [121.32], [121.32, 31.25], [121.30, 31.23]]),
                            "bmu.toml": TOWN_TOML})
    case("unknown-geometry-type", {"town.geojson": fc(feature({"type": "Circle", "coordinates": [121.31, 31.24],
                                                                 "radius": 1000}, props)),
                                   "bmu.toml": TOWN_TOML})

    # Bad numbers.
    nan_ring = json.dumps(SQUARE).replace("31.25]", '"NaN"]', 1)
    case("nan-coordinate", {"town.geojson": GOOD_TOWN.replace(json.dumps(SQUARE)[1:-1], nan_ring[1:-1]),
                            "bmu.toml": TOWN_TOML})
    case("infinite-coordinate", {"town.geojson": GOOD_TOWN.replace("31.25]", "1e999]", 1), "bmu.toml": TOWN_TOML})
    case("huge-coordinate", {"town.geojson": GOOD_TOWN.replace("31.25]", "1e300]", 1), "bmu.toml": TOWN_TOML})
    case("latlon-swapped", {"town.geojson": town([[y, x] for x, y in SQUARE]), "bmu.toml": TOWN_TOML})
    projected = [[333000, 3456000], [335000, 3456000], [335000, 3458000], [333000, 3458000], [333000, 3456000]]
    case("projected-in-wgs84", {"town.geojson": town(projected), "bmu.toml": TOWN_TOML})
    case("projected-declared-wgs84", {
        "town.geojson": fc(feature(polygon(projected), props),
                           crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}),
        "bmu.toml": TOWN_TOML})
    case("unknown-crs-member", {
        "town.geojson": fc(feature(polygon(SQUARE), props),
                           crs={"type": "name", "properties": {"name": "EPSG:999999"}}),
        "bmu.toml": TOWN_TOML})
    # Roads in lon/lat but 500 km away (Nanjing-ish): usable, but worth a warning.
    far = [[118.70 + 0.01 * i, 32.05] for i in range(3)]
    case("layers-far-apart", {
        "town.geojson": GOOD_TOWN,
        "roads.geojson": fc(feature({"type": "LineString", "coordinates": far}, {"highway": "primary"})),
        "bmu.toml": TOWN_TOML + '\n[[features]]\npath = "roads.geojson"\nclass_field = "highway"\n'})

    # Attributes.
    case("missing-field", {"town.geojson": town(props={"code": "310114118", "name": "江桥镇"}), "bmu.toml": TOWN_TOML})
    case("duplicate-block-ids", {"town.geojson": GOOD_TOWN,
                                 "blocks.geojson": blocks(5000, 6000, 7000, 8000, ids=["B1", "B2", "B2", "B4"]),
                                 "bmu.toml": BLOCKS_TOML})
    case("population-not-a-number", {"town.geojson": GOOD_TOWN, "blocks.geojson": blocks(5000, "about 6000", 7000, 8000),
                                      "bmu.toml": BLOCKS_TOML})
    case("population-negative", {"town.geojson": GOOD_TOWN, "blocks.geojson": blocks(5000, 6000, -7000, 8000),
                                  "bmu.toml": BLOCKS_TOML})
    case("population-missing", {"town.geojson": GOOD_TOWN, "blocks.geojson": blocks(5000, 6000, 7000, None),
                                 "bmu.toml": BLOCKS_TOML})
    case("unknown-facility-type", {"town.geojson": GOOD_TOWN,
                                   "facilities.geojson": facilities(("F1", "health", "existing"),
                                                                    ("F2", "hospital", "existing")),
                                   "bmu.toml": FACILITIES_TOML})
    case("unknown-facility-status", {"town.geojson": GOOD_TOWN,
                                     "facilities.geojson": facilities(("F1", "health", "existing"),
                                                                      ("F2", "culture", "demolished")),
                                     "bmu.toml": FACILITIES_TOML})
    # A newline inside a value must not break the one-line error.
    case("newline-in-attribute", {"town.geojson": GOOD_TOWN,
                                  "facilities.geojson": facilities(("F1", "health", "existing"),
                                                                   ("F2", "hos\npital", "existing")),
                                  "bmu.toml": FACILITIES_TOML})
    case("null-facility-geometry", {"town.geojson": GOOD_TOWN,
                                    "facilities.geojson": fc(feature(None, {"id": "F1", "type": "health",
                                                                            "status": "existing"})),
                                    "bmu.toml": FACILITIES_TOML})

    # bmu.toml.
    case("toml-unknown-key", {"town.geojson": GOOD_TOWN, "bmu.toml": TOWN_TOML + "\n[thresholds]\nmin_populaton = 20000\n"})
    case("toml-wrong-type", {"town.geojson": GOOD_TOWN,
                             "bmu.toml": TOWN_TOML + '\n[thresholds]\nmin_population = "twenty thousand"\n'})
    case("toml-syntax-error", {"town.geojson": GOOD_TOWN, "bmu.toml": '[town\npath = "town.geojson"\n'})
    case("toml-not-utf8", {"town.geojson": GOOD_TOWN,
                           "bmu.toml": ('name = "江桥镇"\n' + TOWN_TOML).encode("gbk")})
    case("toml-unknown-crs", {"town.geojson": GOOD_TOWN, "bmu.toml": 'crs = "EPSG:999999"\n' + TOWN_TOML})
    case("toml-geographic-working-crs", {"town.geojson": GOOD_TOWN, "bmu.toml": 'working_crs = "EPSG:4326"\n' + TOWN_TOML})
    case("toml-share-out-of-range", {"town.geojson": GOOD_TOWN,
                                     "bmu.toml": TOWN_TOML + "\n[thresholds]\nservice_share = 80\n"})
    case("directory-as-layer", {"town.geojson": None, "bmu.toml": TOWN_TOML})
    case("missing-layer-file", {"bmu.toml": TOWN_TOML})
    case("nonexistent-study-area", {"README.txt": "bmu is pointed at ./no-such-area, which does not exist.\n"})
    (HERE / "folder-without-bmu-toml" / "area").mkdir(parents=True, exist_ok=True)
    case("folder-without-bmu-toml/area", {"town.geojson": GOOD_TOWN})

    # Shapefiles.
    good = shapefile()
    case("shapefile-without-dbf", {**shapefile(dbf_file=False), "bmu.toml": SHP_TOML})
    case("shapefile-without-shx", {**shapefile(shx=False), "bmu.toml": SHP_TOML})
    case("dbf-gbk-cpg-says-utf8", {**shapefile(name_bytes="江桥镇".encode("gbk")), "bmu.toml": SHP_TOML})
    case("dbf-unknown-encoding", {**shapefile(cpg="KLINGON-8"), "bmu.toml": SHP_TOML})
    case("prj-garbage", {**shapefile(prj="this is not WKT\n\x01\x02\n"), "bmu.toml": SHP_TOML})
    case("shp-truncated", {**{k: (v[:130] if k.endswith(".shp") else v) for k, v in good.items()}, "bmu.toml": SHP_TOML})
    case("shp-garbage", {**good, "town.shp": bytes(rng.randrange(256) for _ in range(300)), "bmu.toml": SHP_TOML})
    two = dbf(TOWN_FIELDS, [[b"310114118", "江桥镇".encode()], [b"310114119", "华漕镇".encode()]])
    case("shp-dbf-count-mismatch", {**good, "town.dbf": two, "bmu.toml": SHP_TOML})
    case("dbf-bad-numeric", {**good, "town.dbf": dbf([("town_code", "C", 12, 0), ("area", "N", 10, 2)],
                                                      [[b"310114118", b"forty-two"]]),
                             "bmu.toml": SHP_TOML.replace('name_field = "name"\n', "")})

    # Settings validated once, working CRS, Shapefile index (config area).
    case("toml-starts-unbounded", {"town.geojson": GOOD_TOWN,
                                   "bmu.toml": TOWN_TOML + "\n[propose]\nstarts = 1000000000\n"})
    case("toml-service-radius-huge", {"town.geojson": GOOD_TOWN,
                                      "bmu.toml": TOWN_TOML + "\n[thresholds]\nservice_radius_m = 1e12\n"})
    case("set-with-line-break", {"town.geojson": GOOD_TOWN, "bmu.toml": TOWN_TOML})
    case("toml-degenerate-working-crs", {"town.geojson": GOOD_TOWN,
                                         "bmu.toml": 'working_crs = "+proj=tmerc +lon_0=121 +k=0 +units=m"\n'
                                         + TOWN_TOML})
    utm51 = 'working_crs = "EPSG:32651"\n' + TOWN_TOML
    case("town-far-outside-working-zone", {"town.geojson": town([[x - 242.5, y] for x, y in SQUARE]),
                                           "bmu.toml": utm51})
    case("town-beyond-working-zone", {"town.geojson": town([[x + 8.0, y] for x, y in SQUARE]), "bmu.toml": utm51})
    case("toml-unknown-barrier-class", {"town.geojson": GOOD_TOWN,
                                        "bmu.toml": TOWN_TOML + '\n[thresholds]\nbarrier_classes = ["railway", "canall"]\n'})
    shp, shx = shp_polygon([SHP_RING])
    case("shx-truncated", {**good, "town.shx": shx[:104], "bmu.toml": SHP_TOML})
    case("shx-offset-past-shp", {**good, "town.shx": shx[:100] + struct.pack(">2i", 500, len(shp) // 2 - 54),
                                 "bmu.toml": SHP_TOML})
    # Population grids (ESRI ASCII, lon/lat, 0.01 degree cells over the town): one thing wrong in each.
    def asc(rows, ncols=4, nrows=4):
        head = f"ncols {ncols}\nnrows {nrows}\nxllcorner 121.29\nyllcorner 31.22\ncellsize 0.01\nNODATA_value -9999\n"
        return head + "".join(" ".join(r) + "\n" for r in rows)

    good_rows = [["10", "20", "30", "40"] for _ in range(4)]
    inf_rows = [r[:] for r in good_rows]
    inf_rows[1][2] = "+Inf"
    short_rows = [r[:] for r in good_rows]
    short_rows[2] = ["10", "20", "30"]
    for name, text in [("grid-asc-inf-cell", asc(inf_rows)), ("grid-asc-short-row", asc(short_rows)),
                       ("grid-asc-header-larger-than-file", asc(good_rows, 100000, 100000))]:
        case(name, {"town.geojson": GOOD_TOWN, "grid.asc": text, "grid.prj": WGS84_WKT + "\n"})
    # Inputs are sacred: files that are not regular files, said as what they are (outputs area).
    case("layer-symlink-to-dev-zero", {"town.geojson": Link("/dev/zero"), "bmu.toml": TOWN_TOML})
    case("layer-symlink-loop", {"town.geojson": Link("town.geojson"), "bmu.toml": TOWN_TOML})
    case("layer-dangling-symlink", {"town.geojson": Link("gone.geojson"), "bmu.toml": TOWN_TOML})
    case("dbf-symlink-to-dev-zero", {**good, "town.dbf": Link("/dev/zero"), "bmu.toml": SHP_TOML})



def osm_xml(body):
    """OSM XML around `body`: a road crossing the square town, nodes first."""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n{body}</osm>\n'


OSM_NODES = ('  <node id="1" lat="31.2400000" lon="121.3000000"/>\n'
             '  <node id="2" lat="31.2400000" lon="121.3200000"/>\n')
OSM_WAY = ('  <way id="10"><nd ref="1"/><nd ref="2"/>'
           '<tag k="highway" v="primary"/><tag k="name" v="示例路"/></way>\n')


def osm_cases():
    """OpenStreetMap layers (.osm, .osm.pbf) with one thing wrong; the PBF ones start from data/osm's extract."""
    toml = TOWN_TOML + '\n[[features]]\npath = "roads.osm"\n'
    good = osm_xml(OSM_NODES + OSM_WAY)
    case("osm-xml-truncated", {"town.geojson": GOOD_TOWN, "bmu.toml": toml,
                               "roads.osm": good[: good.index("  <way")]})
    case("osm-nodes-after-ways", {"town.geojson": GOOD_TOWN, "bmu.toml": toml,
                                  "roads.osm": osm_xml(OSM_WAY + OSM_NODES)})
    case("osm-node-bad-latitude", {"town.geojson": GOOD_TOWN, "bmu.toml": toml,
                                   "roads.osm": good.replace('lat="31.2400000" lon="121.3200000"',
                                                             'lat="31.24.1" lon="121.3200000"')})
    case("osm-not-osm-xml", {"town.geojson": GOOD_TOWN, "bmu.toml": toml,
                             "roads.osm": '<?xml version="1.0"?>\n<gpx version="1.1"><trk/></gpx>\n'})
    # An extract cut without complete ways: node 3 is elsewhere. Usable, with a warning.
    case("osm-way-missing-nodes", {"town.geojson": GOOD_TOWN, "bmu.toml": toml,
                                   "roads.osm": good.replace('<nd ref="2"/>', '<nd ref="2"/><nd ref="3"/>')})
    pbf = (HERE.parent.parent / "osm" / "huangpu_W.osm.pbf").read_bytes()
    pbf_toml = TOWN_TOML + '\n[[features]]\npath = "roads.osm.pbf"\n'
    case("osm-pbf-truncated", {"town.geojson": GOOD_TOWN, "bmu.toml": pbf_toml, "roads.osm.pbf": pbf[: len(pbf) // 2]})
    case("osm-pbf-holding-xml", {"town.geojson": GOOD_TOWN, "bmu.toml": pbf_toml, "roads.osm.pbf": good})


def batch_cases():
    """`bmu batch` (issue 15): a towns layer whose every town is unusable, so no town can be run."""
    bowtie = [[121.30, 31.23], [121.32, 31.25], [121.32, 31.23], [121.30, 31.25], [121.30, 31.23]]
    case("batch-every-town-invalid", {"towns.geojson": fc(feature(polygon(bowtie), {"name": "蝴蝶镇"}),
                                                          feature({"type": "LineString", "coordinates": SQUARE},
                                                                  {"name": "线镇"}))})


def exclave_cases():
    """The exclave policy (issue 14): `exclaves` takes two words, and the deprecated alias may not contradict it."""
    case("toml-exclaves-contradicts-merge-infeasible",
         {"town.geojson": GOOD_TOWN,
          "bmu.toml": TOWN_TOML + '\n[propose]\nexclaves = "merge"\nmerge_infeasible = false\n'})
    case("toml-exclaves-unknown-word",
         {"town.geojson": GOOD_TOWN, "bmu.toml": TOWN_TOML + '\n[propose]\nexclaves = "road"\n'})


if __name__ == "__main__":
    main()
    osm_cases()
    batch_cases()
    exclave_cases()

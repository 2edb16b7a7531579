#!/usr/bin/env python3
"""Build the 江桥镇 Jiangqiao demo study area for `bmu` (data/jiangqiao/).

Run from the repository root (the repo is a sibling of `shared/`):

    python data/gen/make_jiangqiao.py            # writes data/jiangqiao/*
    python data/gen/make_jiangqiao.py --check    # regenerate into a temp dir and compare

Inputs are read from ../shared/realdata (override with BMU_REALDATA=/path/to/realdata).
Everything is deterministic: fixed seeds, sorted inputs, coordinates rounded to 7 decimals.

Real extracts:   town.geojson, roads.osm.geojson, metro_stations.geojson, parks.geojson
SYNTHETIC files: facilities.synthetic.geojson, canals.synthetic.geojson, population.synthetic.tif
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
import shapely
import shapely.affinity
from pyproj import Geod, Transformer
from rasterio.transform import Affine
from shapely.geometry import LineString, Point, Polygon, mapping, shape
from shapely.geometry.polygon import orient
from shapely.ops import polygonize, unary_union

SEED = 20181009  # 沪民区划〔2018〕6号 was issued in autumn 2018; the date is just a memorable seed
TOWN_NAME = "江桥镇"
TOWN_NAME_EN = "Jiangqiao"
DISTRICT_NAME = "嘉定区"
DISTRICT_CODE = "310114"
CELL_DEG = 1.0 / 1200.0  # 3 arc-seconds, the WorldPop 100 m grid
NODATA = -99999.0
PREC = 7  # decimals kept in GeoJSON coordinates (~1 cm)

REPO = Path(__file__).resolve().parents[2]
REALDATA = Path(os.environ.get("BMU_REALDATA", REPO.parent / "shared" / "realdata"))

_TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True)
_TO_LL = Transformer.from_crs("EPSG:32651", "EPSG:4326", always_xy=True)
GEOD = Geod(ellps="WGS84")


# --------------------------------------------------------------------------- helpers
def to_utm(g):
    return shapely.transform(g, lambda c: np.column_stack(_TO_UTM.transform(c[:, 0], c[:, 1])))


def to_ll(g):
    return shapely.transform(g, lambda c: np.column_stack(_TO_LL.transform(c[:, 0], c[:, 1])))


def rnd(g):
    """Round coordinates to PREC decimals (what the GeoJSON files hold)."""
    return shapely.transform(g, lambda c: np.round(c, PREC))


def geodesic_area_km2(g) -> float:
    return abs(GEOD.geometry_area_perimeter(g)[0]) / 1e6


def load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def geom_json(g) -> dict:
    if g.geom_type == "Polygon":
        g = orient(g, 1.0)  # RFC 7946: exterior ring counter-clockwise
    elif g.geom_type == "MultiPolygon":
        g = shapely.MultiPolygon([orient(p, 1.0) for p in g.geoms])
    m = mapping(rnd(g))

    def fix(c):
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [round(float(v), PREC) for v in c]
        return [fix(x) for x in c]

    return {"type": m["type"], "coordinates": fix(m["coordinates"])}


def write_fc(path: Path, features: list[tuple[dict, object]], name: str) -> None:
    """Write a FeatureCollection: one feature per line, UTF-8, Chinese kept, no `crs` member."""
    lines = []
    for props, geom in features:
        f = {"type": "Feature", "properties": props, "geometry": geom_json(geom)}
        lines.append(json.dumps(f, ensure_ascii=False, separators=(",", ":")))
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('{"type":"FeatureCollection","name":' + json.dumps(name, ensure_ascii=False) + ',"features":[\n')
        fh.write(",\n".join(lines))
        fh.write("\n]}\n")


def read_fc_geoms(path: Path) -> list:
    return [(f["properties"], shape(f["geometry"])) for f in load(path)["features"]]


# --------------------------------------------------------------------------- 1. town
def make_town(out: Path):
    src = load(REALDATA / "stockard-shanghai-covid-2022" / "shanghai_street_labeled.geojson")
    feats = [f for f in src["features"] if f["properties"].get("inferred_town") == TOWN_NAME]
    assert len(feats) == 1, f"expected one {TOWN_NAME} polygon, got {len(feats)}"
    p = feats[0]["properties"]
    assert p["inferred_district"] == DISTRICT_NAME
    town = rnd(shape(feats[0]["geometry"]))
    assert town.is_valid and town.geom_type == "Polygon"
    props = {"town_code": p["town_code_2023"], "name": TOWN_NAME, "name_en": TOWN_NAME_EN}
    write_fc(out / "town.geojson", [(props, town)], "town")
    return town, {"source_rec": p["rec"], "label_purity": p["label_purity"], "source_area_km2": p["area_km2"],
                  "town_code": p["town_code_2023"]}


# --------------------------------------------------------------------------- 2. OSM roads
def make_roads(out: Path, town_utm):
    src = load(REALDATA / "osm-signal-intersections-evdata" / "intersections.geojson")
    buf = town_utm.buffer(500)
    ways = {}
    for f in src["features"]:
        if f["geometry"]["type"] != "LineString" or f["properties"].get("type") != "way":
            continue
        wid = f["properties"]["way_id"]
        if wid in ways:  # the same way is repeated once per signal group; copies are identical
            assert ways[wid]["geometry"] == f["geometry"]
            continue
        ways[wid] = f
    sel = []
    for wid in sorted(ways):
        f = ways[wid]
        g = shape(f["geometry"])
        if to_utm(g).intersects(buf):
            tags = f["properties"].get("tags", {})
            sel.append(({"way_id": wid, "highway": tags.get("highway"), "name": tags.get("name")}, g))
    write_fc(out / "roads.osm.geojson", sel, "roads.osm")
    return sel, {"unique_ways_in_source": len(ways), "selected": len(sel)}


# --------------------------------------------------------------------------- 3. overlays
EXIT_NAME = re.compile(r"^[0-9]+[A-Za-z]?$")  # metro exits are named "1", "4B", ...


def make_overlays(out: Path, town_utm):
    buf = town_utm.buffer(1000)
    info = {}
    stations = []
    for fname, typ, outname in (("metro_stations.geojson", "transit", "metro_stations.geojson"),
                                ("parks.geojson", "park", "parks.geojson")):
        src = load(REALDATA / "dawn-ecnu-example-data" / fname)
        inside = [f for f in src["features"] if to_utm(shape(f["geometry"])).within(buf)]
        n_inside = len(inside)
        if typ == "transit":
            # keep stations, drop exit points, one point per station name (smallest Amap id)
            inside = [f for f in inside if not EXIT_NAME.match(str(f["properties"]["name"]))]
            by_name = {}
            for f in sorted(inside, key=lambda f: f["properties"]["id"]):
                by_name.setdefault(f["properties"]["name"], f)
            inside = list(by_name.values())
        inside.sort(key=lambda f: f["properties"]["id"])
        feats = [({"id": f["properties"]["id"], "name": f["properties"]["name"], "type": typ},
                  rnd(shape(f["geometry"]))) for f in inside]
        write_fc(out / outname, feats, outname.removesuffix(".geojson"))
        info[outname] = {"points_in_buffer": n_inside, "written": len(feats),
                         "inside_town": sum(to_utm(g).within(town_utm) for _, g in feats)}
        if typ == "transit":
            stations = feats
    return stations, info


# --------------------------------------------------------------------------- 5. synthetic canals
def wavy_line(rng, axis: str, pos: float, lo: float, hi: float, angle_deg: float):
    """A wavy line across [lo, hi] along `axis` ('x' = runs west-east, 'y' = runs south-north)."""
    t = np.arange(lo, hi + 1e-6, 40.0)
    a1, l1, p1 = rng.uniform(40, 110), rng.uniform(1800, 3200), rng.uniform(0, 2 * np.pi)
    a2, l2, p2 = rng.uniform(8, 30), rng.uniform(450, 900), rng.uniform(0, 2 * np.pi)
    mid = 0.5 * (lo + hi)
    off = (a1 * np.sin(2 * np.pi * t / l1 + p1) + a2 * np.sin(2 * np.pi * t / l2 + p2)
           + math.tan(math.radians(angle_deg)) * (t - mid))
    if axis == "x":
        return LineString(np.column_stack([t, pos + off]))
    return LineString(np.column_stack([pos + off, t]))


CANAL_PARAMS = {
    "spacing_ns": 1150.0,       # north-south lines, nominal spacing along x (m)
    "spacing_ew": 1050.0,       # west-east lines, nominal spacing along y (m)
    "pos_jitter": 0.25,         # candidate offset from the nominal position, share of the spacing
    "max_angle_deg": 6.0,       # tilt of a line against the axis
    "candidates_per_line": 10,  # greedy choice: the candidate giving the fewest faces < 0.3 km2 wins
    "p_canal": 0.65,            # share of lines that are canals (the rest: synthetic minor roads)
    "extend_m": 200.0,          # lines are clipped to the town buffered by this much
    "min_piece_in_town_m": 400.0,
}


def small_faces(town_utm, lines) -> tuple[int, float]:
    noded = unary_union([town_utm.exterior] + list(lines))
    a = [p.area / 1e6 for p in polygonize(noded) if town_utm.contains(p.representative_point())]
    small = [x for x in a if x < 0.3]
    return len(small), sum(small)


def clip_pieces(line, clip, town_utm, min_len):
    cl = line.intersection(clip)
    out = []
    for part in getattr(cl, "geoms", [cl]):
        if part.is_empty or part.geom_type != "LineString":
            continue
        if part.intersection(town_utm).length >= min_len:
            out.append(part)
    return out


def make_canals(out: Path, town_utm, roads):
    """Wavy canals / minor roads, one per nominal position along each axis, chosen greedily.

    For every nominal position `candidates_per_line` seeded candidates are drawn (position jitter, tilt,
    two sine waves); each is clipped to the town buffered by `extend_m` and the candidate that leaves the
    fewest blocks < 0.3 km2 (polygonised with the town boundary, the OSM roads and the lines chosen so
    far) is kept.  North-south lines are placed first, then west-east lines.
    """
    rng = np.random.default_rng([SEED, 1])
    P = CANAL_PARAMS
    minx, miny, maxx, maxy = town_utm.bounds
    clip = town_utm.buffer(P["extend_m"])
    chosen = [to_utm(g) for _, g in roads]
    n_fixed = len(chosen)
    for axis, lo_pos, hi_pos, spacing, lo, hi in (
        ("y", minx, maxx, P["spacing_ns"], miny - 500, maxy + 500),
        ("x", miny, maxy, P["spacing_ew"], minx - 500, maxx + 500),
    ):
        n = int(round((hi_pos - lo_pos) / spacing))
        step = (hi_pos - lo_pos) / n
        for k in range(1, n):
            nominal = lo_pos + k * step
            best = None
            for _ in range(P["candidates_per_line"]):
                pos = nominal + rng.uniform(-P["pos_jitter"], P["pos_jitter"]) * spacing
                ang = rng.uniform(-P["max_angle_deg"], P["max_angle_deg"])
                pieces = clip_pieces(wavy_line(rng, axis, pos, lo, hi, ang), clip, town_utm,
                                     P["min_piece_in_town_m"])
                if not pieces:
                    continue
                score = small_faces(town_utm, chosen + pieces)
                if best is None or score < best[0]:
                    best = (score, pieces)
            if best is not None:
                chosen.extend(best[1])
    feats = []
    n_canal = n_road = 0
    for part in chosen[n_fixed:]:
        cls = "canal" if rng.random() < P["p_canal"] else "road"
        if cls == "canal":
            n_canal += 1
            name = f"合成河道 {n_canal}"
        else:
            n_road += 1
            name = f"合成道路 {n_road}"
        feats.append(({"id": f"C{len(feats) + 1:03d}", "class": cls, "name": name, "synthetic": True},
                      rnd(to_ll(part))))
    write_fc(out / "canals.synthetic.geojson", feats, "canals.synthetic")
    return feats


def block_stats(town_utm, lines_utm) -> dict:
    noded = unary_union([town_utm.exterior] + list(lines_utm))
    faces = [p for p in polygonize(noded) if town_utm.contains(p.representative_point())]
    a = np.array(sorted((p.area / 1e6 for p in faces), reverse=True))
    return {
        "blocks": int(a.size),
        "total_km2": round(float(a.sum()), 4),
        "largest_km2": round(float(a.max()), 4),
        "median_km2": round(float(np.median(a)), 4),
        "smallest_km2": round(float(a.min()), 6),
        "n_lt_0_3_km2": int((a < 0.3).sum()),
        "n_0_3_to_3_km2": int(((a >= 0.3) & (a <= 3.0)).sum()),
        "n_gt_3_km2": int((a > 3.0).sum()),
        "area_share_in_0_3_to_3_km2": round(float(a[(a >= 0.3) & (a <= 3.0)].sum() / a.sum()), 4),
        "areas_km2": [round(float(x), 4) for x in a],
    }


# --------------------------------------------------------------------------- 4. synthetic facilities
THREE_PLUS_THREE = ["affairs", "health", "culture", "police", "urban_management", "market_supervision"]
TYPE_NAME = {
    "affairs": "社区事务受理服务分中心",
    "health": "社区卫生服务站",
    "culture": "社区文化活动室",
    "police": "警务站",
    "urban_management": "城管执法工作站",
    "market_supervision": "市场监管工作站",
    "grid_center": "网格化综合管理分中心",
    "housing_station": "房管工作站",
    "elderly_care": "综合为老服务中心",
}
CN_NUM = "一二三四五六七八九十"
N_CENTRES = 8
EXTRAS = {"grid_center": 2, "housing_station": 3, "elderly_care": 4}


def make_facilities(out: Path, town_utm, roads):
    rng = np.random.default_rng(SEED)
    inner = town_utm.buffer(-150)
    # candidate centre locations: OSM road vertices well inside the town
    verts = set()
    for _, g in roads:
        for x, y in np.asarray(to_utm(g).coords):
            verts.add((round(x, 1), round(y, 1)))
    cand = np.array(sorted(verts))
    cand = cand[shapely.contains_xy(inner, cand[:, 0], cand[:, 1])]
    # farthest-point sampling, starting from a seeded random vertex
    idx = [int(rng.integers(len(cand)))]
    d = np.hypot(*(cand - cand[idx[0]]).T)
    for _ in range(N_CENTRES - 1):
        j = int(np.argmax(d))
        idx.append(j)
        d = np.minimum(d, np.hypot(*(cand - cand[j]).T))
    # "snap near" the road vertex: move the centre 20-60 m off the carriageway
    centres = []
    for j in idx:
        for _ in range(100):
            r, th = rng.uniform(20, 60), rng.uniform(0, 2 * np.pi)
            c = cand[j] + r * np.array([math.cos(th), math.sin(th)])
            if inner.contains(Point(c)):
                break
        centres.append(c)
    # order centres west -> east so the ids read naturally on a map
    centres.sort(key=lambda c: (round(c[0], 1), round(c[1], 1)))

    safe = town_utm.buffer(-20)

    def jitter(c):
        for _ in range(200):
            r, th = rng.uniform(40, 280), rng.uniform(0, 2 * np.pi)
            p = Point(c + r * np.array([math.cos(th), math.sin(th)]))
            if safe.contains(p):
                return p
        raise RuntimeError("could not place a facility inside the town")

    # which centres miss which 3+3 types (so that validation has something to report)
    missing = {}
    for k in sorted(rng.choice(N_CENTRES, size=3, replace=False).tolist()):
        n_miss = int(rng.integers(1, 3))
        missing[k] = sorted(rng.choice(THREE_PLUS_THREE, size=n_miss, replace=False).tolist())

    feats = []

    def add(typ, k, p):
        status = "existing" if rng.random() < 0.7 else "planned"
        name = f"{TOWN_NAME}第{CN_NUM[k]}片区{TYPE_NAME[typ]}(合成)"
        feats.append(({"id": f"F{len(feats) + 1:03d}", "type": typ, "status": status, "name": name,
                       "synthetic": True}, rnd(to_ll(p))))

    for k, c in enumerate(centres):
        for typ in THREE_PLUS_THREE:
            p = jitter(c)  # always draw, so the sequence does not depend on `missing`
            if typ in missing.get(k, []):
                continue
            add(typ, k, p)
    for typ, n in EXTRAS.items():
        for k in sorted(rng.choice(N_CENTRES, size=n, replace=False).tolist()):
            add(typ, k, jitter(centres[k]))
    # sanity: every point inside the town
    for _, g in feats:
        assert town_utm.contains(to_utm(g))
    write_fc(out / "facilities.synthetic.geojson", feats, "facilities.synthetic")
    return feats, {"centres_utm": [[round(float(x), 1) for x in c] for c in centres],
                   "missing_by_centre": {CN_NUM[k]: v for k, v in missing.items()}}


# --------------------------------------------------------------------------- 6. synthetic population
HIGHWAY_WEIGHT = {
    "residential": 1.0, "unclassified": 0.8, "tertiary": 1.0, "secondary": 0.8, "primary": 0.6,
    "trunk": 0.3, "motorway": 0.1,
}


def jiading_density() -> dict:
    pop = None
    with open(REALDATA / "leiii-census-districts" / "shanghai_districts_population_2010_2020.csv",
              encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["code"] == DISTRICT_CODE:
                assert row["name"].strip() == DISTRICT_NAME
                pop = float(row["pop2020"])
    assert pop is not None
    src = load(REALDATA / "dawn-ecnu-example-data" / "shanghai_boundary.geojson")
    polys = [shape(f["geometry"]) for f in src["features"] if f["properties"]["县名"] == DISTRICT_NAME]
    assert len(polys) == 1
    area = geodesic_area_km2(polys[0])
    return {"pop2020": pop, "area_km2": area, "density_per_km2": pop / area}


def make_population(out: Path, town_ll, town_utm, roads, stations, canals):
    rng = np.random.default_rng([SEED, 2])
    dens = jiading_density()
    town_area = geodesic_area_km2(town_ll)
    target = dens["density_per_km2"] * town_area

    # grid: town bbox + 1 km, snapped outward to the 3" lattice
    bx0, by0, bx1, by1 = to_ll(town_utm.buffer(1000).envelope).bounds
    west, south = math.floor(bx0 / CELL_DEG) * CELL_DEG, math.floor(by0 / CELL_DEG) * CELL_DEG
    east, north = math.ceil(bx1 / CELL_DEG) * CELL_DEG, math.ceil(by1 / CELL_DEG) * CELL_DEG
    ncol, nrow = round((east - west) / CELL_DEG), round((north - south) / CELL_DEG)
    west, north = round(west * 1200) / 1200, round(north * 1200) / 1200
    tf = Affine(CELL_DEG, 0.0, west, 0.0, -CELL_DEG, north)
    cols, rows = np.meshgrid(np.arange(ncol), np.arange(nrow))
    lon = west + (cols + 0.5) * CELL_DEG
    lat = north - (rows + 0.5) * CELL_DEG
    cx, cy = _TO_UTM.transform(lon.ravel(), lat.ravel())
    cx, cy = np.asarray(cx), np.asarray(cy)

    # kernel sources: OSM roads densified every 100 m (weight by class), metro stations
    src_xy, src_w = [], []
    for props, g in roads:
        hw = (props["highway"] or "").removesuffix("_link")
        w = HIGHWAY_WEIGHT.get(hw, 0.5) * (0.3 if props["highway"].endswith("_link") else 1.0)
        gu = to_utm(g)
        n = max(2, int(gu.length // 100) + 1)
        pts = shapely.get_coordinates(shapely.line_interpolate_point(gu, np.linspace(0, gu.length, n)))
        src_xy.append(pts)
        src_w.append(np.full(len(pts), w * gu.length / n / 100.0))
    src_xy, src_w = np.vstack(src_xy), np.concatenate(src_w)
    st_xy = np.array([shapely.get_coordinates(to_utm(g))[0] for _, g in stations])

    def kernel_sum(xy, w, sigma):
        acc = np.zeros(cx.size)
        for i in range(0, len(xy), 256):
            dx = cx[:, None] - xy[None, i:i + 256, 0]
            dy = cy[:, None] - xy[None, i:i + 256, 1]
            acc += (np.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) * w[None, i:i + 256]).sum(axis=1)
        return acc

    road_k = kernel_sum(src_xy, src_w, 350.0)
    metro_k = kernel_sum(st_xy, np.ones(len(st_xy)), 600.0)
    base = road_k / road_k.max() + 0.8 * metro_k / metro_k.max() + 0.04
    # multiplicative lognormal noise, lightly smoothed (3x3 mean) so it is patchy rather than salt-and-pepper
    noise = rng.lognormal(0.0, 0.6, size=(nrow + 2, ncol + 2))
    noise = sum(noise[i:i + nrow, j:j + ncol] for i in range(3) for j in range(3)) / 9.0
    val = base.reshape(nrow, ncol) * noise

    # zero patches: fields / water bodies (seeded ellipses) centred on cells inside the town, drawn with
    # probability proportional to (1 - base/max)^3 so they fall mostly in the sparse (rural) parts
    patches = []
    in_town = np.flatnonzero(shapely.contains_xy(town_utm, cx, cy))
    prob = (1.0 - base[in_town] / base.max()) ** 3
    for i in rng.choice(in_town, size=10, replace=False, p=prob / prob.sum()):
        a, b, th = rng.uniform(200, 550), rng.uniform(120, 320), rng.uniform(0, np.pi)
        e = shapely.affinity.rotate(shapely.affinity.scale(Point(cx[i], cy[i]).buffer(1.0, 32), a, b), th,
                                    use_radians=True)
        patches.append(e)
    field = unary_union(patches)
    zero = shapely.contains_xy(field, cx, cy).reshape(nrow, ncol)

    # cell polygons (lon/lat corners -> UTM) for canal hits and exact area weighting
    x0 = west + cols.ravel() * CELL_DEG
    y1 = north - rows.ravel() * CELL_DEG
    x1, y0 = x0 + CELL_DEG, y1 - CELL_DEG
    ring_lon = np.stack([x0, x1, x1, x0, x0], axis=1)
    ring_lat = np.stack([y0, y0, y1, y1, y0], axis=1)
    ux, uy = _TO_UTM.transform(ring_lon.ravel(), ring_lat.ravel())
    cells_utm = shapely.polygons(np.stack([np.asarray(ux), np.asarray(uy)], axis=1).reshape(-1, 5, 2))
    cells_ll = shapely.polygons(np.stack([ring_lon, ring_lat], axis=2))
    canal_lines = unary_union([to_utm(g) for p, g in canals if p["class"] == "canal"])
    on_canal = shapely.intersects(cells_utm, canal_lines).reshape(nrow, ncol)
    zero |= on_canal

    outside = ~shapely.contains_xy(town_utm.buffer(1000), cx, cy).reshape(nrow, ncol)
    val[zero] = 0.0

    frac = (shapely.area(shapely.intersection(cells_utm, town_utm)) / shapely.area(cells_utm)).reshape(nrow, ncol)
    frac[outside] = 0.0  # (no cell whose centre is outside the 1 km buffer touches the town)
    scale = target / float((val * frac).sum())
    arr = (val * scale).astype(np.float32)
    arr[outside] = np.float32(NODATA)

    valid = arr != np.float32(NODATA)
    total_utm = float((arr.astype(np.float64) * frac)[valid].sum())
    frac_ll = (shapely.area(shapely.intersection(cells_ll, town_ll)) / shapely.area(cells_ll)).reshape(nrow, ncol)
    total_ll = float((arr.astype(np.float64) * frac_ll)[valid].sum())
    centre_in = shapely.contains_xy(town_utm, cx, cy).reshape(nrow, ncol)
    total_centres = float(arr.astype(np.float64)[centre_in & valid].sum())
    total_grid = float(arr.astype(np.float64)[valid].sum())

    meta = {
        "SYNTHETIC": "yes - generated by data/gen/make_jiangqiao.py, not observed population",
        "SEED": f"numpy default_rng([{SEED}, 2])",
        "BASIS": (f"Jiading 2020 census pop {dens['pop2020']:.0f} / Jiading geodesic area "
                  f"{dens['area_km2']:.4f} km2 = {dens['density_per_km2']:.4f} per km2, x Jiangqiao geodesic "
                  f"area {town_area:.4f} km2"),
        "TARGET_TOTAL_IN_TOWN": f"{target:.3f}",
        "TOTAL_IN_TOWN_AREA_WEIGHTED_EPSG32651": f"{total_utm:.3f}",
        "TOTAL_IN_TOWN_AREA_WEIGHTED_LONLAT": f"{total_ll:.3f}",
        "TOTAL_IN_TOWN_CELL_CENTRES": f"{total_centres:.3f}",
        "TOTAL_ALL_VALID_CELLS": f"{total_grid:.3f}",
        "UNITS": "persons per cell (WorldPop convention)",
    }
    profile = {
        "driver": "GTiff", "width": ncol, "height": nrow, "count": 1, "dtype": "float32",
        "crs": "EPSG:4326", "transform": tf, "nodata": NODATA, "compress": "deflate", "tiled": False,
        "blockysize": 16, "interleave": "pixel",  # PlanarConfiguration 1 (contiguous)
    }
    path = out / "population.synthetic.tif"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
        dst.update_tags(**meta)
        dst.set_band_description(1, "population (SYNTHETIC)")
    aux = path.with_suffix(".tif.aux.xml")
    if aux.exists():
        aux.unlink()
    stats = {
        "width": ncol, "height": nrow, "west": west, "north": north, "cell_deg": CELL_DEG,
        "jiading": dens, "town_geodesic_area_km2": town_area, "target_total_in_town": target,
        "total_in_town_area_weighted_epsg32651": total_utm, "total_in_town_area_weighted_lonlat": total_ll,
        "total_in_town_cell_centres": total_centres, "total_all_valid_cells": total_grid,
        "cells_nodata": int((~valid).sum()), "cells_zero": int((valid & (arr == 0)).sum()),
        "cells_on_canals": int((on_canal & valid).sum()),
        "max_cell": float(arr[valid].max()),
    }
    return stats


# --------------------------------------------------------------------------- 7. config
BMU_TOML = '''name = "江桥镇 Jiangqiao (Jiading, Shanghai)"
crs = "EPSG:4326"            # CRS of layers that do not declare one
working_crs = "EPSG:32651"   # metres

[town]
path = "town.geojson"
id_field = "town_code"
name_field = "name"

[[features]]
path = "roads.osm.geojson"
class_field = "highway"      # OSM highway values are mapped to classes

[[features]]
path = "canals.synthetic.geojson"
class_field = "class"

[facilities]
path = "facilities.synthetic.geojson"
id_field = "id"
type_field = "type"
status_field = "status"

[[overlays]]
path = "metro_stations.geojson"
type = "transit"

[[overlays]]
path = "parks.geojson"
type = "park"

[population]
grid = "population.synthetic.tif"

[thresholds]
min_population = 20000
min_area_km2 = 2.0
'''


# --------------------------------------------------------------------------- main
def build(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    town_ll, town_info = make_town(out)
    town_utm = to_utm(town_ll)
    roads, road_info = make_roads(out, town_utm)
    stations, overlay_info = make_overlays(out, town_utm)
    canals = make_canals(out, town_utm, roads)
    facilities, fac_info = make_facilities(out, town_utm, roads)
    # re-read what was written (rounded coordinates) for the checks
    roads_w = read_fc_geoms(out / "roads.osm.geojson")
    canals_w = read_fc_geoms(out / "canals.synthetic.geojson")
    town_w = read_fc_geoms(out / "town.geojson")[0][1]
    town_wu = to_utm(town_w)
    osm_only = block_stats(town_wu, [to_utm(g) for _, g in roads_w])
    osm_canals = block_stats(town_wu, [to_utm(g) for _, g in roads_w] + [to_utm(g) for _, g in canals_w])
    pop = make_population(out, town_w, town_wu, roads_w, stations, canals_w)
    (out / "bmu.toml").write_text(BMU_TOML, encoding="utf-8")
    report = {
        "town": {**town_info, "geodesic_area_km2": round(geodesic_area_km2(town_w), 4),
                 "utm_area_km2": round(town_wu.area / 1e6, 4)},
        "roads": road_info,
        "overlays": overlay_info,
        "canals": {"features": len(canals_w),
                   "canal": sum(p["class"] == "canal" for p, _ in canals_w),
                   "road": sum(p["class"] == "road" for p, _ in canals_w),
                   "length_km_in_town": round(sum(to_utm(g).intersection(town_wu).length
                                                  for _, g in canals_w) / 1000, 2),
                   "params": CANAL_PARAMS},
        "facilities": {"count": len(facilities),
                       "by_type": {t: sum(p["type"] == t for p, _ in facilities)
                                   for t in THREE_PLUS_THREE + list(EXTRAS)},
                       "planned": sum(p["status"] == "planned" for p, _ in facilities), **fac_info},
        "blocks_osm_only": osm_only,
        "blocks_osm_plus_synthetic": osm_canals,
        "population": pop,
    }
    with open(out / "generation_report.json", "w", encoding="utf-8", newline="\n") as fh:
        json.dump(report, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "data" / "jiangqiao")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temporary folder and compare byte-for-byte with --out")
    args = ap.parse_args()
    if not REALDATA.is_dir():
        print(f"realdata not found at {REALDATA} (set BMU_REALDATA)", file=sys.stderr)
        return 2
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp))
            names = sorted(p.name for p in Path(tmp).iterdir())
            _, mismatch, errors = filecmp.cmpfiles(tmp, args.out, names, shallow=False)
            if mismatch or errors:
                print(f"DIFFERENT: {mismatch} MISSING: {errors}")
                return 1
            print(f"identical: {', '.join(names)}")
            return 0
    r = build(args.out)
    for k in ("blocks_osm_only", "blocks_osm_plus_synthetic"):
        s = {kk: v for kk, v in r[k].items() if kk != "areas_km2"}
        print(k, s)
    p = r["population"]
    print(f"population in town (area-weighted, EPSG:32651): {p['total_in_town_area_weighted_epsg32651']:.1f} "
          f"(target {p['target_total_in_town']:.1f})")
    print("facilities", r["facilities"]["by_type"], "missing", r["facilities"]["missing_by_centre"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

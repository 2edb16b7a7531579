#!/usr/bin/env python3
"""bmu propose against the max-p peers (pygeoda maxp_greedy / maxp_sa / maxp_tabu, spopt MaxPHeuristic).

Datasets: libpysal's bundled example polygons that carry a count (no network needed) and the synthetic rook lattices
of tests/compare/maxp_lattices.py (900, 3,600 and 10,000 cells). Each dataset is written once as GeoJSON with an
`id` field, and both bmu and the peers read that very file:
  sids2    North Carolina counties (100), births 1974 `BIR74`, WGS84
  georgia  Georgia counties (159), population 1990 `TotPop90`, UTM 17N (NAD83) -> WGS84
  stl      St Louis region counties (78), population 1988-93 `PO8893`, WGS84
  lattice-SIDE  square 100 m cells with `pop` (numpy default_rng(7), 100..1000), placed in UTM 51N by a `crs` member
Rook contiguity everywhere: bmu's adjacency needs a shared boundary >= min_shared_boundary_m, set to 0.1 m here (the
peers' rook needs one shared edge); bmu measures in the UTM zone of the blocks.

bmu runs as a whole process: `bmu propose --config CFG --blocks F --id-field id --population-field FIELD
--min-population BOUND --min-area-km2 0`; its time is the wall time of the process (reading, adjacency, max-p,
dissolving, validating every unit, writing) and, separately, the in-process max-p solve time it prints. The peers'
times are in-process (peers-maxp), so the comparison favours them.

usage: maxp_peers.py [--bmu PATH] [--limit SECONDS] [--only NAME,NAME] [--lattice-peers FILE]
  --lattice-peers FILE  reuse peer results for the lattices from a maxp_lattices.py --peers log (JSON lines) instead
                        of rerunning them (the 10,000-cell lattice takes the peers minutes each)
Run with /tmp/bmu-peers/bin/python after /work/shared/tools/peers-setup.
"""
import json
import os
import re
import subprocess
import sys
import time

import geopandas as gpd
import libpysal.examples

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import maxp_lattices  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = "/tmp/bmu-maxp-peers"
PEERS = ["maxp_greedy", "maxp_sa", "maxp_tabu", "spopt"]
EXAMPLES = os.path.dirname(libpysal.examples.__file__)

# name -> (shapefile under libpysal/examples, CRS of the shapefile, count field, bound)
POLYGONS = {
    "sids2": ("sids2/sids2.shp", "EPSG:4326", "BIR74", 15000.0),
    "georgia": ("georgia/G_utm.shp", "EPSG:26917", "TotPop90", 250000.0),
    "stl": ("stl/stl_hom.shp", "EPSG:4326", "PO8893", 250000.0),
}


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def polygon_dataset(name):
    rel, crs, field, bound = POLYGONS[name]
    gdf = gpd.read_file(os.path.join(EXAMPLES, rel)).set_crs(crs, allow_override=True).to_crs("EPSG:4326")
    gdf = gdf[[field, "geometry"]].copy()
    gdf.insert(0, "id", [f"{name}-{i}" for i in range(len(gdf))])
    path = os.path.join(WORK, f"{name}.geojson")
    gdf.to_file(path, driver="GeoJSON")
    return path, field, bound, len(gdf)


def lattice_dataset(side, bound):
    """maxp_lattices' lattice, shifted into UTM 51N coordinates and labelled with a `crs` member for bmu."""
    maxp_lattices.lattice(side, bound)
    with open(f"/tmp/bmu-lattice-{side}.geojson") as f:
        fc = json.load(f)
    for feat in fc["features"]:
        feat["properties"]["id"] = str(feat["properties"]["id"])
        feat["geometry"]["coordinates"] = [[[x + 350000.0, y + 3450000.0] for x, y in ring]
                                           for ring in feat["geometry"]["coordinates"]]
    fc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32651"}}
    path = os.path.join(WORK, f"lattice-{side}.geojson")
    with open(path, "w") as f:
        json.dump(fc, f)
    return path, "pop", bound, side * side


def run_bmu(bmu, name, path, field, bound):
    out = os.path.join(WORK, name)
    os.makedirs(out, exist_ok=True)
    cfg = os.path.join(WORK, "bench.toml")
    with open(cfg, "w") as f:
        f.write("[propose]\nmin_shared_boundary_m = 0.1\n")
    cmd = [bmu, "propose", "--config", cfg, "--blocks", path, "--id-field", "id", "--population-field", field,
           "--min-population", str(bound), "--min-area-km2", "0", "--out", os.path.join(out, "units.geojson")]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
    wall = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        return {"error": proc.stderr.strip()[-300:]}
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    solve = re.search(r"solved in ([0-9.]+) s", proc.stderr)
    return {"p": report["candidates"][0]["p"], "seconds": round(wall, 3),
            "solve_s": float(solve.group(1)) if solve else None,
            "unassigned": len(report["unassigned_blocks"]),
            "min_region": min((u["population"] for u in report["units"]), default=None),
            "baseline_p": report["proposal"]["greedy_baseline_p"]}


def run_peers(path, field, bound, limit):
    res = {}
    out = subprocess.run(["/work/shared/tools/peers-maxp", path, field, str(bound), str(limit)],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        rec = json.loads(line)
        res[rec["peer"]] = rec
    return res


def cell(rec):
    if rec is None:
        return "–"
    if "timeout_s" in rec:
        return f"> {rec['timeout_s']} s"
    if "p" not in rec:
        return "failed"
    un = f", {rec['unassigned']} unassigned" if rec.get("unassigned") else ""
    return f"{rec['p']} / {rec['seconds']:.2f} s{un}"


def main():
    bmu = arg("--bmu", os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/bmu"))
    limit = arg("--limit", "240")
    only = arg("--only", None)
    cached = {}
    if "--lattice-peers" in sys.argv:
        with open(arg("--lattice-peers", "")) as f:
            for line in f:
                rec = json.loads(line)
                cached.setdefault(f"lattice-{rec['side']}", {})[rec["peer"]] = rec
    os.makedirs(WORK, exist_ok=True)
    datasets = [(n, lambda n=n: polygon_dataset(n)) for n in POLYGONS]
    datasets += [(f"lattice-{s}", lambda s=s, b=b: lattice_dataset(s, b)) for s, b in maxp_lattices.SIDES.items()]
    rows = []
    for name, make in datasets:
        if only and name not in only.split(","):
            continue
        path, field, bound, n = make()
        b = run_bmu(bmu, name, path, field, bound)
        peers = cached.get(name) or run_peers(path, field, bound, limit)
        rec = {"dataset": name, "n": n, "field": field, "bound": bound, "bmu": b, "peers": peers,
               "peers_cached": name in cached}
        print(json.dumps(rec), file=sys.stderr, flush=True)
        rows.append(rec)
    print("| dataset | n | count field | bound | bmu p / process s (solve s) | " + " | ".join(PEERS) + " |")
    print("|---|---:|---|---:|---|" + "---|" * len(PEERS))
    for r in rows:
        b = r["bmu"]
        bcell = b.get("error") or (f"**{b['p']}** / {b['seconds']:.2f} s ({b['solve_s']:.3f} s)"
                                   + (f", {b['unassigned']} unassigned" if b["unassigned"] else ""))
        star = " †" if r["peers_cached"] else ""
        print(f"| {r['dataset']}{star} | {r['n']:,} | `{r['field']}` | {r['bound']:,.0f} | {bcell} | "
              + " | ".join(cell(r["peers"].get(p)) for p in PEERS) + " |")


if __name__ == "__main__":
    main()

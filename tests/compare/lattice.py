#!/usr/bin/env python3
"""Seeded square rook lattices of 250 m blocks for `bmu propose` at scale (the issue's "scale without a cliff").

usage: lattice.py SIDE OUT.geojson [--seed N]

Writes SIDE x SIDE square blocks (EPSG:32651 metres, origin 300000 E, 3400000 N), properties `id` (row * SIDE + col)
and `POP`: uniform integers 300..1000 inclusive from Python's `random.Random(seed)` (default 7), mean 650, so that
with --min-population 20000 a unit holds about 31 blocks. Prints n, the total population and the upper bound on p
(total // 20000). Standard library only; nothing large is committed: generate into /tmp.

  python3 tests/compare/lattice.py 350 /tmp/L350.geojson
  /usr/bin/time -v target/release/bmu propose --blocks /tmp/L350.geojson --population-field POP --id-field id \\
      --min-population 20000 --min-area-km2 0 --set propose.min_shared_boundary_m=0.1 --out /tmp/L350-units.geojson
"""
import json
import random
import sys

CELL = 250.0
X0, Y0 = 300000.0, 3400000.0
BOUND = 20000


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    side, out = int(sys.argv[1]), sys.argv[2]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 7
    rng = random.Random(seed)
    total = 0
    with open(out, "w") as f:
        f.write('{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::32651"}},'
                '"features":[\n')
        for row in range(side):
            for col in range(side):
                pop = rng.randint(300, 1000)
                total += pop
                x, y = X0 + col * CELL, Y0 + row * CELL
                ring = [[x, y], [x + CELL, y], [x + CELL, y + CELL], [x, y + CELL], [x, y]]
                feature = {"type": "Feature", "properties": {"id": row * side + col, "POP": pop},
                           "geometry": {"type": "Polygon", "coordinates": [ring]}}
                sep = ",\n" if row or col else ""
                f.write(sep + json.dumps(feature, separators=(",", ":")))
        f.write("\n]}\n")
    print(json.dumps({"side": side, "n": side * side, "total_population": total, "bound": BOUND,
                      "p_upper_bound": total // BOUND}))


if __name__ == "__main__":
    main()

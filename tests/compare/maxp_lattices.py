#!/usr/bin/env python3
"""Synthetic rook lattices for comparing bmu's max-p engine with pygeoda and spopt.

Writes, for each lattice side in SIDES, two files under /tmp:
  bmu-lattice-SIDE.geojson  square cells (100 m, projected metres), property `pop`, for the peers;
  bmu-lattice-SIDE.json     {"side", "cell", "bound", "population": [...]} row-major (index = row * side + col),
                            read by `cargo bench --bench maxp` so that bmu solves the very same lattice.
With --peers it then runs /work/shared/tools/peers-maxp on each GeoJSON and appends one JSON line per peer run to
/tmp/bmu-lattice-peers.jsonl (fields of peers-maxp plus "side" and "bound").

Populations: numpy default_rng(7), uniform integers 100..1000 inclusive, one generator per lattice.
usage: maxp_lattices.py [--peers] [--limit SECONDS]     (run with /tmp/bmu-peers/bin/python after peers-setup)
"""
import json
import subprocess
import sys

import numpy as np

CELL = 100.0
# side -> population bound; chosen so that p is in the tens to hundreds (upper bound total/bound ~ 99, 198, 275).
SIDES = {30: 5000.0, 60: 10000.0, 100: 20000.0}
PEERS_MAXP = "/work/shared/tools/peers-maxp"


def lattice(side, bound):
    pop = np.random.default_rng(7).integers(100, 1001, size=side * side)
    features = []
    for row in range(side):
        for col in range(side):
            x0, y0 = col * CELL, row * CELL
            ring = [[x0, y0], [x0 + CELL, y0], [x0 + CELL, y0 + CELL], [x0, y0 + CELL], [x0, y0]]
            features.append({"type": "Feature", "properties": {"id": row * side + col, "pop": int(pop[row * side + col])},
                             "geometry": {"type": "Polygon", "coordinates": [ring]}})
    with open(f"/tmp/bmu-lattice-{side}.geojson", "w") as f:
        json.dump({"type": "FeatureCollection", "features": features}, f)
    with open(f"/tmp/bmu-lattice-{side}.json", "w") as f:
        json.dump({"side": side, "cell": CELL, "bound": bound, "population": [int(v) for v in pop]}, f)
    return int(pop.sum())


def main():
    limit = sys.argv[sys.argv.index("--limit") + 1] if "--limit" in sys.argv else "240"
    for side, bound in SIDES.items():
        total = lattice(side, bound)
        print(f"lattice {side}x{side}: total population {total}, bound {bound}, p <= {int(total // bound)}", flush=True)
        if "--peers" in sys.argv:
            out = subprocess.run([PEERS_MAXP, f"/tmp/bmu-lattice-{side}.geojson", "pop", str(bound), limit],
                                 capture_output=True, text=True).stdout
            with open("/tmp/bmu-lattice-peers.jsonl", "a") as f:
                for line in out.splitlines():
                    rec = json.loads(line)
                    rec.update(side=side, bound=bound)
                    print(json.dumps(rec), flush=True)
                    f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()

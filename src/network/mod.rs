//! Service areas along the walking network (`service_distance = "network"`).
//!
//! The distance from a facility to a resident is the straight walk from the facility to the nearest point of a
//! walkable line (at most `max_access_m`; further is unreachable), the shortest path along walkable lines, and the
//! straight walk from the line to the resident — the 15-minute life circle is a walking time, and a disc counts
//! residents across canals and expressways that nobody walks across. Lines join only where they share a vertex
//! (an OSM node): a crossing without one is a bridge or a tunnel. Rivers, canals, railways and expressways are not
//! walkable, so they are crossed only where a walkable line crosses them.
//!
//! The graph ([`Network`], a petgraph `UnGraph`) is built once per study area: one node per distinct vertex, one
//! edge per segment. A point is snapped by projecting it onto the nearest segment found in an rstar R-tree of
//! segments; a facility's access point splits its segment implicitly (the search starts from both ends of the
//! segment, at the distances along it), so the graph is never copied per facility. One Dijkstra per facility, cut
//! off at the radius ([`Network::reach`]); population is counted in squares of `network_cell_m` whose centres are
//! within reach ([`reached_cells`]): the covered part of a unit is the union of those squares, and the uncovered
//! part the rest, so the population source (exact grid fractions, block counts) measures both as it measures the
//! discs of the straight-line distance.

use crate::config::Thresholds;
use crate::model::{FacilityType, FeatureClass, LineFeature, StudyArea};
use geo::{BoundingRect, Line, MultiPolygon, Point, Polygon, Rect};
use petgraph::graph::{NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use rayon::prelude::*;
use rstar::primitives::GeomWithData;
use rstar::RTree;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// The walkable lines of a study area as a graph, with an R-tree of its segments for snapping.
pub struct Network {
    graph: UnGraph<[f64; 2], f64>,
    /// One per edge, in edge order.
    segments: Vec<Segment>,
    tree: RTree<GeomWithData<Line<f64>, usize>>,
}

#[derive(Clone, Copy, Debug)]
struct Segment {
    a: NodeIndex,
    b: NodeIndex,
    length: f64,
}

/// Where a point joins the network: the segment, how far along it from its first vertex, and the straight walk.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Access {
    /// The segment (an edge index of the graph).
    pub segment: usize,
    /// Metres along the segment from its first vertex to the access point.
    pub along: f64,
    /// Metres from the point to the access point.
    pub access: f64,
}

/// Network distances from one or more sources, up to a cutoff.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    /// Distance to each node reached (including the sources' access walks).
    nodes: HashMap<NodeIndex, f64>,
    /// The sources: needed for points on a source's own segment, reached without passing a vertex.
    sources: Vec<Access>,
}

impl Reach {
    /// Merges `other` into `self`: the distance from the nearer of their sources.
    pub fn merge(&mut self, other: Reach) {
        for (n, d) in other.nodes {
            self.nodes.entry(n).and_modify(|e| *e = e.min(d)).or_insert(d);
        }
        self.sources.extend(other.sources);
    }

    /// Number of graph nodes within the cutoff.
    pub fn nodes_reached(&self) -> usize {
        self.nodes.len()
    }
}

/// A float ordered for the heap (distances are finite and non-negative).
#[derive(Clone, Copy, PartialEq)]
struct Scored(f64, NodeIndex);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    /// Reversed, so `BinaryHeap` pops the nearest first; ties by node index keep the order fixed.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then_with(|| other.1.cmp(&self.1))
    }
}

impl Network {
    /// The network of the lines whose class is in `walkable`. Vertices with equal coordinates are one node.
    pub fn build(lines: &[LineFeature], walkable: &[FeatureClass]) -> Network {
        let mut graph = UnGraph::<[f64; 2], f64>::default();
        let mut nodes: HashMap<(u64, u64), NodeIndex> = HashMap::new();
        let mut segments = Vec::new();
        let mut node = |graph: &mut UnGraph<[f64; 2], f64>, c: geo::Coord<f64>| {
            // +0.0 so that -0.0 and 0.0 are one vertex.
            let key = ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits());
            *nodes.entry(key).or_insert_with(|| graph.add_node([c.x, c.y]))
        };
        for line in lines.iter().filter(|l| walkable.contains(&l.class)) {
            for ls in &line.geometry.0 {
                for w in ls.0.windows(2) {
                    let (p, q) = (w[0], w[1]);
                    let length = (q.x - p.x).hypot(q.y - p.y);
                    if !length.is_finite() || length <= 0.0 {
                        continue;
                    }
                    let (a, b) = (node(&mut graph, p), node(&mut graph, q));
                    graph.add_edge(a, b, length);
                    segments.push(Segment { a, b, length });
                }
            }
        }
        let tree = RTree::bulk_load(
            graph
                .edge_indices()
                .filter_map(|e| {
                    let (a, b) = graph.edge_endpoints(e)?;
                    Some(GeomWithData::new(Line::new(graph[a], graph[b]), e.index()))
                })
                .collect(),
        );
        Network {
            graph,
            segments,
            tree,
        }
    }

    /// The walkable network of a study area, as its thresholds define it.
    pub fn of(area: &StudyArea) -> Network {
        Network::build(&area.lines, &area.config.thresholds.walkable_classes)
    }

    /// Number of distinct vertices.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Where `p` joins the network: the nearest point of the nearest segment, when within `max_access` metres.
    pub fn access(&self, p: Point<f64>, max_access: f64) -> Option<Access> {
        // Not `nearest_neighbor`: rstar 0.13's min-max pruning returns a farther segment for some points (on the
        // real OSM extract of data/osm; see the test below), while the iterator is exact.
        let nearest = self.tree.nearest_neighbor_iter(p).next()?;
        let line = nearest.geom();
        let (d, along) = project(line, p);
        (d <= max_access).then_some(Access {
            segment: nearest.data,
            along,
            access: d,
        })
    }

    /// One Dijkstra from `sources` (each starting at both ends of its segment), up to `cutoff` metres. petgraph's
    /// `dijkstra` starts at one node and has no cutoff; an access point lies inside a segment and the search must
    /// stop at the radius, so the loop is written here over petgraph's graph.
    pub fn reach(&self, sources: &[Access], cutoff: f64) -> Reach {
        let mut best: HashMap<NodeIndex, f64> = HashMap::new();
        let mut heap = BinaryHeap::new();
        let seed =
            |n: NodeIndex, d: f64, best: &mut HashMap<NodeIndex, f64>, heap: &mut BinaryHeap<Scored>| {
                if d <= cutoff && best.get(&n).is_none_or(|&e| d < e) {
                    best.insert(n, d);
                    heap.push(Scored(d, n));
                }
            };
        for s in sources {
            let Some(seg) = self.segments.get(s.segment) else {
                continue;
            };
            seed(seg.a, s.access + s.along, &mut best, &mut heap);
            seed(
                seg.b,
                s.access + (seg.length - s.along).max(0.0),
                &mut best,
                &mut heap,
            );
        }
        while let Some(Scored(d, n)) = heap.pop() {
            if best.get(&n).is_some_and(|&e| d > e) {
                continue;
            }
            for e in self.graph.edges(n) {
                let next = d + *e.weight();
                let m = if e.source() == n { e.target() } else { e.source() };
                seed(m, next, &mut best, &mut heap);
            }
        }
        Reach {
            nodes: best,
            sources: sources.to_vec(),
        }
    }

    /// The network distance from `reach`'s sources to a point joining at `to`, when within its cutoff.
    pub fn distance(&self, reach: &Reach, to: &Access) -> Option<f64> {
        let seg = self.segments.get(to.segment)?;
        let via_a = reach.nodes.get(&seg.a).map(|d| d + to.along);
        let via_b = reach
            .nodes
            .get(&seg.b)
            .map(|d| d + (seg.length - to.along).max(0.0));
        // A source on the same segment reaches the point without passing either end.
        let direct = reach
            .sources
            .iter()
            .filter(|s| s.segment == to.segment)
            .map(|s| s.access + (s.along - to.along).abs())
            .reduce(f64::min);
        [via_a, via_b, direct]
            .into_iter()
            .flatten()
            .reduce(f64::min)
            .map(|d| d + to.access)
    }

    /// The network distance between two points, within `cutoff` (None: unreachable or further).
    pub fn between(&self, from: Point<f64>, to: Point<f64>, max_access: f64, cutoff: f64) -> Option<f64> {
        let (f, t) = (self.access(from, max_access)?, self.access(to, max_access)?);
        let d = self.distance(&self.reach(&[f], cutoff), &t)?;
        (d <= cutoff).then_some(d)
    }
}

/// Distance from `p` to `line` and how far along the line (from its start) the nearest point lies.
fn project(line: &Line<f64>, p: Point<f64>) -> (f64, f64) {
    let (dx, dy) = (line.end.x - line.start.x, line.end.y - line.start.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.x() - line.start.x) * dx + (p.y() - line.start.y) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (line.start.x + t * dx, line.start.y + t * dy);
    ((p.x() - cx).hypot(p.y() - cy), t * len2.sqrt())
}

/// Per service type, the network distances from every facility of the type (existing or planned), up to the
/// service radius: built once per study area and read by every unit.
pub struct ServiceAreas {
    /// The graph.
    pub network: Network,
    reach: Vec<(FacilityType, Reach)>,
}

impl ServiceAreas {
    /// One Dijkstra per facility of each service type (in parallel), merged per type.
    pub fn new(area: &StudyArea) -> ServiceAreas {
        let t = &area.config.thresholds;
        let network = Network::of(area);
        let reach = t
            .service_types
            .iter()
            .map(|&kind| {
                let per_facility: Vec<Reach> = area
                    .facilities
                    .iter()
                    .filter(|f| f.kind == kind)
                    .collect::<Vec<_>>()
                    .par_iter()
                    .filter_map(|f| network.access(f.location, t.max_access_m))
                    .map(|a| network.reach(&[a], t.service_radius_m))
                    .collect();
                let mut all = Reach::default();
                for r in per_facility {
                    all.merge(r);
                }
                (kind, all)
            })
            .collect();
        ServiceAreas { network, reach }
    }

    /// The distances from the facilities of `kind` (None when it is not a service type).
    pub fn reach(&self, kind: FacilityType) -> Option<&Reach> {
        self.reach.iter().find(|(k, _)| *k == kind).map(|(_, r)| r)
    }
}

/// The squares of a `side`-metre lattice (aligned on multiples of `side`, so neighbouring units share it) over the
/// bounding box of `unit`, each with where its centre joins the network.
pub struct Cells {
    x0: f64,
    y0: f64,
    side: f64,
    columns: usize,
    rows: usize,
    access: Vec<Option<Access>>,
}

impl Cells {
    /// The lattice over `unit`, centres snapped to `network`.
    pub fn new(network: &Network, unit: &MultiPolygon<f64>, t: &Thresholds) -> Cells {
        let side = t.network_cell_m;
        let Some(b) = unit.bounding_rect() else {
            return Cells {
                x0: 0.0,
                y0: 0.0,
                side,
                columns: 0,
                rows: 0,
                access: Vec::new(),
            };
        };
        let x0 = (b.min().x / side).floor() * side;
        let y0 = (b.min().y / side).floor() * side;
        let columns = (((b.max().x - x0) / side).ceil() as usize).max(1);
        let rows = (((b.max().y - y0) / side).ceil() as usize).max(1);
        let access = (0..rows * columns)
            .into_par_iter()
            .map(|k| {
                let (i, j) = (k % columns, k / columns);
                let c = Point::new(x0 + (i as f64 + 0.5) * side, y0 + (j as f64 + 0.5) * side);
                network.access(c, t.max_access_m)
            })
            .collect();
        Cells {
            x0,
            y0,
            side,
            columns,
            rows,
            access,
        }
    }

    /// The squares whose centre is within `radius` of `reach`'s sources along `network`: runs of squares along
    /// each row merged into one rectangle, so the union stays small.
    pub fn reached(&self, network: &Network, reach: &Reach, radius: f64) -> MultiPolygon<f64> {
        let mut strips = Vec::new();
        for j in 0..self.rows {
            let mut run: Option<usize> = None;
            for i in 0..=self.columns {
                let inside = i < self.columns
                    && self.access[j * self.columns + i]
                        .as_ref()
                        .and_then(|a| network.distance(reach, a))
                        .is_some_and(|d| d <= radius);
                match (inside, run) {
                    (true, None) => run = Some(i),
                    (false, Some(start)) => {
                        strips.push(self.strip(start, i, j));
                        run = None;
                    }
                    _ => {}
                }
            }
        }
        MultiPolygon(strips)
    }

    fn strip(&self, from: usize, to: usize, row: usize) -> Polygon<f64> {
        let y = self.y0 + row as f64 * self.side;
        Rect::new(
            (self.x0 + from as f64 * self.side, y),
            (self.x0 + to as f64 * self.side, y + self.side),
        )
        .to_polygon()
    }
}

/// The part of `unit` whose squares are within `radius` of `reach` along `network`.
pub fn reached_cells(
    network: &Network,
    cells: &Cells,
    reach: &Reach,
    unit: &MultiPolygon<f64>,
    radius: f64,
) -> MultiPolygon<f64> {
    use geo::BooleanOps;
    let strips = cells.reached(network, reach, radius);
    if strips.0.is_empty() {
        return MultiPolygon(Vec::new());
    }
    // The strips touch only along edges and never overlap, so they form one region without a union first.
    unit.intersection(&strips)
}

#[cfg(test)]
mod tests;

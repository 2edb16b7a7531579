//! 四至: a unit's boundary told by what it follows on each side — "东至华江公路，南至合成河道 7，西至（相邻单元 U03），
//! 北至（镇界）" — the way a town describes a unit in its submission.
//!
//! The unit's outer rings are walked counter-clockwise in steps of at most [`STEP_M`]; each step's bearing from the
//! unit's centroid says which side it is on (east, south, west or north, in 90° sectors); its outward normal says
//! where to look past it. A step is attributed to the nearest named
//! line feature within [`TOLERANCE_M`] that runs along it (within 35° of its direction: a road that only crosses
//! the boundary does not bound it), found through an R-tree of the features' segments. A step with none is the
//! neighbouring unit it faces, else the town boundary when it faces outside the town, else unassigned land. Each
//! side names what covers at least [`MIN_SHARE`] of its length, longest first, at most three.

use crate::model::LineFeature;
use geo::orient::{Direction, Orient};
use geo::{Centroid, Contains, Coord, Line, MultiPolygon, Point};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use std::collections::BTreeMap;

/// Longest step along the boundary, metres.
pub const STEP_M: f64 = 40.0;
/// How far from the boundary a feature may run and still bound it, metres (a road's centreline lies half its
/// width, and often a verge, off the block's edge).
pub const TOLERANCE_M: f64 = 60.0;
/// The share of a side a feature must cover to be named.
pub const MIN_SHARE: f64 = 0.15;

/// What one stretch of a side follows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bound {
    /// A named road, river or other line feature.
    Feature(String),
    /// The neighbouring unit, by id.
    Unit(String),
    /// The town boundary.
    Town,
    /// Land in no unit.
    Unassigned,
}

/// The four sides in the order a 四至 is read: east, south, west, north.
pub const SIDES: [&str; 4] = ["东", "南", "西", "北"];

/// The 四至 of one unit: per side (east, south, west, north), what it follows, longest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sizhi {
    /// Per side, the bounds named.
    pub sides: [Vec<Bound>; 4],
}

impl Sizhi {
    /// The distinct feature names the 四至 cites.
    pub fn features(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .sides
            .iter()
            .flatten()
            .filter_map(|b| match b {
                Bound::Feature(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

type Segment = GeomWithData<Line<f64>, usize>;

/// The named features of a map, indexed once for every unit's 四至.
pub struct Features {
    names: Vec<String>,
    tree: RTree<Segment>,
}

impl Features {
    /// Indexes the named (non-empty `name`) features among `lines`.
    pub fn new<'a>(lines: impl IntoIterator<Item = &'a LineFeature>) -> Self {
        let mut names: Vec<String> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut segments = Vec::new();
        for l in lines {
            let Some(name) = l.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) else {
                continue;
            };
            let k = *index.entry(name.to_string()).or_insert_with(|| {
                names.push(name.to_string());
                names.len() - 1
            });
            for ls in &l.geometry.0 {
                segments.extend(ls.lines().map(|s| GeomWithData::new(s, k)));
            }
        }
        Features {
            names,
            tree: RTree::bulk_load(segments),
        }
    }

    /// The named feature running along the step from `a` to `b`, when one lies within the tolerance.
    fn along(&self, a: Coord<f64>, b: Coord<f64>) -> Option<&str> {
        let mid = Point::from((a + b) / 2.0);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len = dx.hypot(dy);
        if len == 0.0 {
            return None;
        }
        // Nearest first: the first segment that runs along the step is the feature that bounds it.
        let hit = self
            .tree
            .nearest_neighbor_iter_with_distance_2(mid)
            .take_while(|(_, d2)| *d2 <= TOLERANCE_M * TOLERANCE_M)
            .find(|(seg, _)| {
                let s = seg.geom();
                let (sx, sy) = (s.end.x - s.start.x, s.end.y - s.start.y);
                let slen = sx.hypot(sy);
                // cos 35°: along the boundary, not across it.
                slen > 0.0 && ((dx * sx + dy * sy) / (len * slen)).abs() >= 0.819
            })?;
        self.names.get(hit.0.data).map(String::as_str)
    }
}

/// The side (0 east, 1 south, 2 west, 3 north) a boundary point lies on, by its bearing from the unit's centroid
/// in 90° sectors. The bearing, not the boundary's own direction, decides: a jagged edge (a town boundary traced
/// along field plots) turns every way, yet all of it lies on one side of the unit.
fn side_of(centre: Coord<f64>, p: Coord<f64>) -> usize {
    let angle = (p.y - centre.y).atan2(p.x - centre.x).to_degrees();
    if (-45.0..45.0).contains(&angle) {
        0
    } else if (-135.0..-45.0).contains(&angle) {
        1
    } else if (45.0..135.0).contains(&angle) {
        3
    } else {
        2
    }
}

/// The 四至 of `unit`, with `neighbours` (id, geometry) the other units and `town` the town boundary.
pub fn sizhi(
    unit: &MultiPolygon<f64>,
    features: &Features,
    neighbours: &[(&str, &MultiPolygon<f64>)],
    town: Option<&MultiPolygon<f64>>,
) -> Sizhi {
    let mut lengths: [BTreeMap<Bound, f64>; 4] = Default::default();
    let oriented = unit.orient(Direction::Default);
    let Some(centre) = unit.centroid().map(|c| c.0) else {
        return Sizhi::default();
    };
    for poly in &oriented.0 {
        for seg in poly.exterior().lines() {
            let (dx, dy) = (seg.end.x - seg.start.x, seg.end.y - seg.start.y);
            let len = dx.hypot(dy);
            if len == 0.0 {
                continue;
            }
            // Counter-clockwise exterior: the outside is on the right, (dy, -dx).
            let (nx, ny) = (dy / len, -dx / len);
            let steps = (len / STEP_M).ceil().max(1.0) as usize;
            for k in 0..steps {
                let a = seg.start + (seg.end - seg.start) * (k as f64 / steps as f64);
                let b = seg.start + (seg.end - seg.start) * ((k + 1) as f64 / steps as f64);
                let side = side_of(centre, (a + b) / 2.0);
                let bound = match features.along(a, b) {
                    Some(name) => Bound::Feature(name.to_string()),
                    None => {
                        // 20 m out: past the shared edge, inside whatever lies beyond.
                        let probe = Point::from((a + b) / 2.0 + Coord { x: nx, y: ny } * 20.0);
                        match neighbours.iter().find(|(_, g)| g.contains(&probe)) {
                            Some((id, _)) => Bound::Unit((*id).to_string()),
                            None if town.is_none_or(|t| !t.contains(&probe)) => Bound::Town,
                            None => Bound::Unassigned,
                        }
                    }
                };
                *lengths[side].entry(bound).or_insert(0.0) += len / steps as f64;
            }
        }
    }
    let mut out = Sizhi::default();
    for (side, l) in lengths.into_iter().enumerate() {
        let total: f64 = l.values().sum();
        let mut ranked: Vec<(Bound, f64)> = l.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let named: Vec<Bound> = ranked
            .iter()
            .filter(|(_, m)| *m >= MIN_SHARE * total)
            .take(3)
            .map(|(b, _)| b.clone())
            .collect();
        out.sides[side] = if named.is_empty() {
            ranked.into_iter().take(1).map(|(b, _)| b).collect()
        } else {
            named
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FeatureClass;
    use geo::{line_string, polygon, MultiLineString};

    fn road(name: &str, coords: geo::LineString<f64>) -> LineFeature {
        LineFeature {
            id: name.into(),
            class: FeatureClass::Road,
            name: Some(name.into()),
            geometry: MultiLineString(vec![coords]),
            inferred: false,
        }
    }

    #[test]
    fn sizhi_names_the_roads_along_each_side_then_neighbour_then_town() {
        // A 1 km square unit; a road 20 m east of its east edge, a river along its south edge, a road crossing its
        // north edge (not along it: never named), a neighbour unit to the west, the town beyond the north.
        let unit = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 1000.0, y: 0.0), (x: 1000.0, y: 1000.0), (x: 0.0, y: 1000.0)
        ]]);
        let west = MultiPolygon(vec![polygon![
            (x: -1000.0, y: 0.0), (x: 0.0, y: 0.0), (x: 0.0, y: 1000.0), (x: -1000.0, y: 1000.0)
        ]]);
        let town = MultiPolygon(vec![polygon![
            (x: -1000.0, y: -500.0), (x: 1500.0, y: -500.0), (x: 1500.0, y: 1000.0), (x: -1000.0, y: 1000.0)
        ]]);
        let lines = [
            road(
                "华江公路",
                line_string![(x: 1020.0, y: -200.0), (x: 1020.0, y: 1200.0)],
            ),
            road(
                "合成河道 7",
                line_string![(x: -100.0, y: -10.0), (x: 1100.0, y: -10.0)],
            ),
            road(
                "横穿路",
                line_string![(x: 500.0, y: 800.0), (x: 500.0, y: 1300.0)],
            ),
        ];
        let f = Features::new(lines.iter());
        let s = sizhi(&unit, &f, &[("U03", &west)], Some(&town));
        assert_eq!(s.sides[0], vec![Bound::Feature("华江公路".into())]);
        assert_eq!(s.sides[1], vec![Bound::Feature("合成河道 7".into())]);
        assert_eq!(s.sides[2], vec![Bound::Unit("U03".into())]);
        assert_eq!(s.sides[3], vec![Bound::Town]);
        assert_eq!(s.features(), vec!["华江公路", "合成河道 7"]);
    }
}

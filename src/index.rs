//! Spatial indexes shared by the pipeline stages.
//!
//! Everything here is an [`rstar`] 0.13 R-tree bulk-loaded from [`GeomWithData`] items, so that geo-types' own
//! `RTreeObject`/`PointDistance` impls are reused. Blocks and lines are indexed by *segment* rather than by whole
//! geometry: a shared-boundary or ray query then touches only the few segments near the query, not every vertex of
//! every candidate polygon.

use geo::{Line, LineString, MultiPolygon, Point, Rect};
use rstar::primitives::GeomWithData;
use rstar::{RTree, AABB};

/// One segment of a line or ring, tagged with what it belongs to.
pub type Segment<T> = GeomWithData<Line<f64>, T>;

/// R-tree over segments, each tagged with `T` (a block index, a line index…).
pub type SegmentTree<T> = RTree<Segment<T>>;

/// Bulk-loads the segments of every line string, tagging each with `tag(line_index, segment_index)`.
///
/// Zero-length segments (repeated vertices) are skipped: they carry no boundary and only slow queries down.
pub fn line_segment_tree<T, F>(lines: &[LineString<f64>], tag: F) -> SegmentTree<T>
where
    F: Fn(usize, usize) -> T,
{
    let items = lines
        .iter()
        .enumerate()
        .flat_map(|(line_index, line)| {
            let tag = &tag;
            line.lines()
                .enumerate()
                .filter(|(_, segment)| segment.start != segment.end)
                .map(move |(segment_index, segment)| {
                    GeomWithData::new(segment, tag(line_index, segment_index))
                })
        })
        .collect();
    RTree::bulk_load(items)
}

/// Bulk-loads the ring segments (exteriors and holes) of every polygon, tagged with the polygon's index.
pub fn ring_segment_tree(polygons: &[&MultiPolygon<f64>]) -> SegmentTree<usize> {
    let items = polygons
        .iter()
        .enumerate()
        .flat_map(|(index, multi)| ring_segments(multi).map(move |segment| GeomWithData::new(segment, index)))
        .collect();
    RTree::bulk_load(items)
}

/// Every non-degenerate segment of every ring of `multi`.
pub fn ring_segments(multi: &MultiPolygon<f64>) -> impl Iterator<Item = Line<f64>> + '_ {
    multi
        .iter()
        .flat_map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()))
        .flat_map(|ring| ring.lines())
        .filter(|segment| segment.start != segment.end)
}

/// The envelope of `rect` grown by `margin` on every side: the search window for "within `margin` of".
pub fn expanded_envelope(rect: Rect<f64>, margin: f64) -> AABB<Point<f64>> {
    AABB::from_corners(
        Point::new(rect.min().x - margin, rect.min().y - margin),
        Point::new(rect.max().x + margin, rect.max().y + margin),
    )
}

/// The envelope of a segment grown by `margin`.
pub fn segment_envelope(segment: Line<f64>, margin: f64) -> AABB<Point<f64>> {
    expanded_envelope(Rect::new(segment.start, segment.end), margin)
}

/// The point of `segment` nearest to `point` (the projection, clamped to the segment's ends).
pub fn closest_on_segment(segment: Line<f64>, point: geo::Coord<f64>) -> geo::Coord<f64> {
    let delta = segment.delta();
    let length_2 = delta.x * delta.x + delta.y * delta.y;
    if length_2 == 0.0 {
        return segment.start;
    }
    let offset = point - segment.start;
    let t = ((offset.x * delta.x + offset.y * delta.y) / length_2).clamp(0.0, 1.0);
    segment.start + delta * t
}

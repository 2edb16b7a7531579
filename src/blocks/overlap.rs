//! Lengths of boundary that run alongside other boundary, within a tolerance.
//!
//! Boundaries of neighbouring blocks that come from independent sources are never exactly coincident, and even the
//! faces of one planar graph may split a shared edge at different vertices (collinear points dropped on one side
//! only). So "shared boundary" is measured per segment `s`: each nearby, nearly parallel segment `t` covers the part
//! of `s` along which `t` stays within the tolerance; the covered intervals are merged and their total length is the
//! shared length. Measuring on `s` and merging intervals means duplicate or overlapping segments on the other side
//! are never counted twice.

use geo::Line;

/// `sin` of the widest angle between two segments still treated as running alongside each other (20°). Wider angles
/// are corners or crossings, whose within-tolerance stretch is an artefact of the tolerance, not a shared edge.
pub(crate) const MAX_SIN_SHARED: f64 = 0.342;

/// Closed interval `[start, end]` in metres along a segment, from its start.
pub(crate) type Interval = (f64, f64);

/// The interval of `s` along which `t` runs within `tolerance` of `s` (measured perpendicular to `s`), or `None`
/// when `t` is degenerate, meets `s` at more than `asin(max_sin)`, or never comes that close.
pub(crate) fn alongside(s: Line<f64>, t: Line<f64>, tolerance: f64, max_sin: f64) -> Option<Interval> {
    let (sx, sy) = (s.dx(), s.dy());
    let length = sx.hypot(sy);
    let (tx, ty) = (t.dx(), t.dy());
    let t_length = tx.hypot(ty);
    if length <= 0.0 || t_length <= 0.0 {
        return None;
    }
    let (ux, uy) = (sx / length, sy / length);
    if (ux * ty - uy * tx).abs() > max_sin * t_length {
        return None;
    }
    // t's endpoints in s's frame: u along s from its start, v to its left.
    let frame = |x: f64, y: f64| {
        let (px, py) = (x - s.start.x, y - s.start.y);
        (px * ux + py * uy, py * ux - px * uy)
    };
    let (u0, v0) = frame(t.start.x, t.start.y);
    let (u1, v1) = frame(t.end.x, t.end.y);
    // Part of t (parameter λ in [0, 1]) with |v| <= tolerance.
    let dv = v1 - v0;
    let (mut low, mut high) = (0.0_f64, 1.0_f64);
    if dv == 0.0 {
        if v0.abs() > tolerance {
            return None;
        }
    } else {
        let a = (-tolerance - v0) / dv;
        let b = (tolerance - v0) / dv;
        low = low.max(a.min(b));
        high = high.min(a.max(b));
        if low > high {
            return None;
        }
    }
    let ua = u0 + low * (u1 - u0);
    let ub = u0 + high * (u1 - u0);
    let start = ua.min(ub).max(0.0);
    let end = ua.max(ub).min(length);
    (end > start).then_some((start, end))
}

/// Sorts and merges `intervals` in place; returns the merged, disjoint intervals.
pub(crate) fn merge(intervals: &mut [Interval]) -> Vec<Interval> {
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for &(start, end) in intervals.iter() {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Total length of disjoint intervals.
pub(crate) fn total(intervals: &[Interval]) -> f64 {
    intervals.iter().map(|(start, end)| end - start).sum()
}

/// Length of the intersection of two sorted, disjoint interval lists.
pub(crate) fn intersection_length(a: &[Interval], b: &[Interval]) -> f64 {
    let (mut i, mut j, mut length) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        let start = a[i].0.max(b[j].0);
        let end = a[i].1.min(b[j].1);
        if end > start {
            length += end - start;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    length
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coord;

    fn line(x0: f64, y0: f64, x1: f64, y1: f64) -> Line<f64> {
        Line::new(coord! { x: x0, y: y0 }, coord! { x: x1, y: y1 })
    }

    #[test]
    fn collinear_overlap_is_the_common_stretch() {
        let s = line(0.0, 0.0, 10.0, 0.0);
        assert_eq!(
            alongside(s, line(4.0, 0.0, 20.0, 0.0), 0.5, MAX_SIN_SHARED),
            Some((4.0, 10.0))
        );
        // Reversed direction and a small offset count the same.
        assert_eq!(
            alongside(s, line(20.0, 0.3, 4.0, 0.3), 0.5, MAX_SIN_SHARED),
            Some((4.0, 10.0))
        );
        assert_eq!(alongside(s, line(0.0, 0.6, 10.0, 0.6), 0.5, MAX_SIN_SHARED), None);
    }

    #[test]
    fn corners_and_crossings_do_not_count() {
        let s = line(0.0, 0.0, 10.0, 0.0);
        assert_eq!(
            alongside(s, line(10.0, 0.0, 10.0, 10.0), 0.5, MAX_SIN_SHARED),
            None
        );
        assert_eq!(alongside(s, line(5.0, -5.0, 5.0, 5.0), 0.5, MAX_SIN_SHARED), None);
        // Touching end to end only.
        assert_eq!(
            alongside(s, line(10.0, 0.0, 20.0, 0.0), 0.5, MAX_SIN_SHARED),
            None
        );
    }

    #[test]
    fn slanted_segment_counts_only_while_within_tolerance() {
        let s = line(0.0, 0.0, 100.0, 0.0);
        // Rises 1 m per 10 m: within 0.5 m for the first 5 m.
        let (start, end) = alongside(s, line(0.0, 0.0, 100.0, 10.0), 0.5, MAX_SIN_SHARED).unwrap();
        assert!(start.abs() < 1e-9 && (end - 5.0).abs() < 1e-9);
    }

    #[test]
    fn interval_algebra() {
        let mut raw = vec![(5.0, 7.0), (0.0, 2.0), (1.0, 3.0)];
        let merged = merge(&mut raw);
        assert_eq!(merged, vec![(0.0, 3.0), (5.0, 7.0)]);
        assert_eq!(total(&merged), 5.0);
        assert_eq!(intersection_length(&merged, &[(2.0, 6.0)]), 2.0);
    }
}

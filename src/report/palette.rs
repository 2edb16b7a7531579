//! Unit colours: a categorical palette where units that touch never share a colour.
//!
//! The fill says which unit a place belongs to, nothing else (pass/fail is a border and a mark), so the reader can
//! follow the partition at a glance. Colours come from a greedy DSatur colouring (Brélaz 1979) of the unit
//! adjacency graph: the uncoloured unit with the most differently-coloured neighbours takes the lowest colour none
//! of them has. Ties go to the higher degree, then to the lower index, so the colouring depends only on the units
//! and their order. Planar maps need at most four colours in theory; DSatur may use five or six on awkward maps,
//! and the palette holds ten, so it never has to reuse a neighbour's colour. A dependency (petgraph) for thirty
//! lines on graphs of a few dozen nodes did not earn its place.

use geo::{BoundingRect, Intersects, MultiPolygon};

/// ColorBrewer "Set3" (Harrower & Brewer 2003), light enough that roads, labels and marks stay readable on top.
pub const PALETTE: [&str; 10] = [
    "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5", "#d9d9d9",
    "#ccebc5",
];

/// Which units touch (share a boundary or a corner), as sorted neighbour lists.
pub fn adjacency(units: &[&MultiPolygon<f64>]) -> Vec<Vec<usize>> {
    let boxes: Vec<_> = units.iter().map(|u| u.bounding_rect()).collect();
    let mut out = vec![Vec::new(); units.len()];
    for i in 0..units.len() {
        for j in i + 1..units.len() {
            let (Some(a), Some(b)) = (boxes[i], boxes[j]) else {
                continue;
            };
            // Boxes first: the exact test is only run on the few pairs that can touch.
            if a.intersects(&b) && units[i].intersects(units[j]) {
                out[i].push(j);
                out[j].push(i);
            }
        }
    }
    out
}

/// A colour index for each node such that neighbours differ (DSatur).
pub fn colour(neighbours: &[Vec<usize>]) -> Vec<usize> {
    let n = neighbours.len();
    let mut colour: Vec<Option<usize>> = vec![None; n];
    for _ in 0..n {
        let saturation = |i: usize| {
            let mut seen: Vec<usize> = neighbours[i].iter().filter_map(|&j| colour[j]).collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len()
        };
        let Some(next) = (0..n)
            .filter(|&i| colour[i].is_none())
            .max_by_key(|&i| (saturation(i), neighbours[i].len(), std::cmp::Reverse(i)))
        else {
            break;
        };
        let taken: Vec<usize> = neighbours[next].iter().filter_map(|&j| colour[j]).collect();
        colour[next] = (0..).find(|c| !taken.contains(c));
    }
    colour.into_iter().map(|c| c.unwrap_or(0)).collect()
}

/// The fill of each unit: neighbours never share one while the palette lasts.
pub fn unit_fills(units: &[&MultiPolygon<f64>]) -> Vec<&'static str> {
    colour(&adjacency(units))
        .into_iter()
        .map(|c| PALETTE[c % PALETTE.len()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, polygon, MultiPolygon};

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            coord! {x: x, y: y},
            coord! {x: x + 1.0, y: y},
            coord! {x: x + 1.0, y: y + 1.0},
            coord! {x: x, y: y + 1.0},
        ]])
    }

    #[test]
    fn neighbouring_units_get_different_colours() {
        // A 4×4 grid: every square touches up to eight others (corners included).
        let squares: Vec<_> = (0..16).map(|i| square((i % 4) as f64, (i / 4) as f64)).collect();
        let refs: Vec<_> = squares.iter().collect();
        let adj = adjacency(&refs);
        assert_eq!(adj[5].len(), 8);
        let c = colour(&adj);
        for (i, ns) in adj.iter().enumerate() {
            for &j in ns {
                assert_ne!(c[i], c[j], "{i} and {j} touch");
            }
        }
        assert!(c.iter().all(|&k| k < PALETTE.len()));
        // Same input, same colours.
        assert_eq!(c, colour(&adjacency(&refs)));
    }

    #[test]
    fn units_apart_may_share_a_colour() {
        let a = square(0.0, 0.0);
        let b = square(5.0, 0.0);
        assert_eq!(unit_fills(&[&a, &b]), vec![PALETTE[0], PALETTE[0]]);
    }
}

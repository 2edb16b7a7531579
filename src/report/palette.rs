//! Unit colours: a categorical palette where units that touch never share a colour.
//!
//! The fill says which unit a place belongs to, nothing else (pass/fail is a border and a mark), so the reader can
//! follow the partition at a glance. Colours come from a DSatur ordering (Brélaz 1979) of the unit adjacency graph:
//! the uncoloured unit with the most differently-coloured neighbours goes next. It takes, among the palette's
//! colours none of its neighbours has, the one used least so far (lowest index on ties): a town of up to ten units
//! gets one colour per unit, and a larger one spreads the palette evenly instead of painting most units in the first
//! three colours, as minimal-colour DSatur did (a reviewer read two distant teal units as one). Ties in the order go
//! to the higher degree, then to the lower index, so the colouring depends only on the units and their order. Only a
//! unit touching ten differently-coloured units falls back to the lowest free index, which wraps round the palette.
//! A dependency (petgraph) for thirty lines on graphs of a few dozen nodes did not earn its place.

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

/// A colour index for each node such that neighbours differ, every node its own while the palette lasts.
pub fn colour(neighbours: &[Vec<usize>]) -> Vec<usize> {
    let n = neighbours.len();
    let mut colour: Vec<Option<usize>> = vec![None; n];
    let mut used = [0usize; PALETTE.len()];
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
        let least_used = (0..PALETTE.len())
            .filter(|c| !taken.contains(c))
            .min_by_key(|&c| (used[c], c));
        let c = least_used.or_else(|| (0..).find(|c| !taken.contains(c)));
        if let Some(c) = c.filter(|&c| c < PALETTE.len()) {
            used[c] += 1;
        }
        colour[next] = c;
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
    fn each_unit_has_its_own_colour_while_the_palette_lasts() {
        // Regression: minimal-colour DSatur painted the demo's eight units in three colours, two distant units alike.
        let squares: Vec<_> = (0..10).map(|i| square(3.0 * i as f64, 0.0)).collect();
        let refs: Vec<_> = squares.iter().collect();
        let fills = unit_fills(&refs);
        let distinct: std::collections::BTreeSet<_> = fills.iter().collect();
        assert_eq!(distinct.len(), 10, "{fills:?}");
    }

    #[test]
    fn more_units_than_colours_spread_the_palette_evenly() {
        // 30 units apart: each colour three times, none four.
        let squares: Vec<_> = (0..30).map(|i| square(3.0 * i as f64, 0.0)).collect();
        let refs: Vec<_> = squares.iter().collect();
        let c = colour(&adjacency(&refs));
        for k in 0..PALETTE.len() {
            assert_eq!(c.iter().filter(|&&x| x == k).count(), 3, "{c:?}");
        }
    }
}

//! Candidate partitions side by side, with ids that mean the same place in each.
//!
//! The solver numbers each candidate's units in its own order, so "U03" of the second candidate is usually not the
//! best candidate's U03. For the comparison each unit of another candidate takes the id of the best candidate's
//! unit it overlaps most: pairs are matched greedily by overlap area, largest first (ties by the units' order, so the
//! result is deterministic), one-to-one; a unit left without a partner gets a new id after the best's. The ids in
//! the candidates' own output files are unchanged; the dossier says so under the maps.

use super::i18n::Lang;
use super::{svg, MapData, MapUnit};
use crate::model::StudyArea;
use crate::run::Outcome;
use crate::validate::Validation;
use geo::{Area, BooleanOps, BoundingRect, Intersects, MultiPolygon};
use std::fmt::Write as _;

/// For each of `other`, the id of the unit of `best` it overlaps most (one-to-one, largest overlap first), or a new
/// id after the best's when none is left.
pub fn stable_ids(best: &[(&str, &MultiPolygon<f64>)], other: &[&MultiPolygon<f64>]) -> Vec<String> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (j, o) in other.iter().enumerate() {
        let ob = o.bounding_rect();
        for (i, (_, b)) in best.iter().enumerate() {
            let bb = b.bounding_rect();
            if !matches!((ob, bb), (Some(x), Some(y)) if x.intersects(&y)) {
                continue;
            }
            let a = o.intersection(*b).unsigned_area();
            if a > 0.0 {
                pairs.push((a, j, i));
            }
        }
    }
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut out: Vec<Option<String>> = vec![None; other.len()];
    let mut used = vec![false; best.len()];
    for (_, j, i) in pairs {
        if out[j].is_none() && !used[i] {
            out[j] = Some(best[i].0.to_string());
            used[i] = true;
        }
    }
    let mut fresh = fresh_ids(best.iter().map(|(id, _)| *id));
    out.into_iter()
        .map(|id| id.unwrap_or_else(|| fresh.next().unwrap_or_default()))
        .collect()
}

/// New ids in the best candidate's style ("U09", "U10", … after U01–U08), skipping any already taken.
fn fresh_ids<'a>(taken: impl Iterator<Item = &'a str>) -> impl Iterator<Item = String> {
    let taken: Vec<String> = taken.map(str::to_string).collect();
    let first = taken.first().cloned().unwrap_or_else(|| "U01".into());
    let prefix: String = first.chars().take_while(|c| !c.is_ascii_digit()).collect();
    let width = first.len() - prefix.len();
    (taken.len() + 1..)
        .map(move |n| format!("{prefix}{n:0width$}"))
        .filter(move |id| !taken.contains(id))
}

/// Every candidate's map side by side, with stable ids.
pub fn candidate_maps(
    h: &mut String,
    area: &StudyArea,
    outcome: &Outcome,
    validations: &[Option<Validation>],
    lang: Lang,
) {
    let Some(p) = &outcome.proposal else { return };
    if p.units.len() < 2 {
        return;
    }
    let Some(best) = p.units.first() else { return };
    let best_ids: Vec<(&str, &MultiPolygon<f64>)> =
        best.iter().map(|u| (u.id.as_str(), &u.geometry)).collect();
    let _ = write!(
        h,
        "<h3>{}</h3>\n<p class=\"note\">{}</p>\n<div class=\"small-maps\">",
        lang.pick("候选方案对照图", "Candidate maps"),
        lang.pick(
            "各方案的单元按与推荐方案重叠面积最大者沿用其编号（一一对应），无对应者另编新号；各方案输出文件中的编号不变。",
            "Each unit takes the id of the best candidate's unit it overlaps most (one to one); units with no \
             partner get new ids. The candidates' own output files keep their ids."
        )
    );
    for (k, units) in p.units.iter().enumerate() {
        let geoms: Vec<&MultiPolygon<f64>> = units.iter().map(|u| &u.geometry).collect();
        let ids = if k == 0 {
            units.iter().map(|u| u.id.clone()).collect()
        } else {
            stable_ids(&best_ids, &geoms)
        };
        let report = validations.get(k).and_then(|v| v.as_ref());
        let mut data = MapData::new(area, outcome);
        data.units = units
            .iter()
            .zip(ids)
            .map(|(u, id)| {
                let r = report.and_then(|v| v.units.iter().find(|r| r.unit_id == u.id));
                MapUnit {
                    id,
                    geometry: u.geometry.clone(),
                    pass: r.map(|r| r.pass),
                    population: r.and_then(|r| r.population),
                    area_km2: u.geometry.unsigned_area() / 1e6,
                }
            })
            .collect();
        data.unassigned = match p.solution.candidates.get(k) {
            Some(c) => (0..p.blocks.ids.len())
                .filter(|&b| c.labels.get(b).copied().flatten().is_none())
                .filter_map(|b| p.blocks.geometry.get(b).cloned())
                .collect(),
            None => Vec::new(),
        };
        let title = crate::edit::compare::candidate_label(k, lang);
        let _ = write!(
            h,
            "<figure class=\"small\">{}</figure>",
            svg::candidate_map(&data, &title)
        );
    }
    h.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn rect(x0: f64, x1: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x0, y: 0.0), (x: x1, y: 0.0), (x: x1, y: 1.0), (x: x0, y: 1.0)],
        ])
    }

    #[test]
    fn candidate_units_keep_the_id_of_the_best_unit_they_overlap_most() {
        let (a, b) = (rect(0.0, 10.0), rect(10.0, 20.0));
        let best = [("U01", &a), ("U02", &b)];
        // The other candidate lists them the other way round, shifted a little, plus a unit of its own.
        let (x, y, z) = (rect(9.0, 20.0), rect(0.0, 9.0), rect(30.0, 40.0));
        assert_eq!(stable_ids(&best, &[&x, &y, &z]), vec!["U02", "U01", "U03"]);
        // Two units mostly in U01: the bigger overlap keeps U01, the other gets a new id.
        let (p, q) = (rect(0.0, 6.0), rect(6.0, 10.0));
        assert_eq!(stable_ids(&best, &[&q, &p]), vec!["U03", "U01"]);
    }
}

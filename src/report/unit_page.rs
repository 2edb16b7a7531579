//! A page per unit — what a town submits for each 基本管理单元: its map at a larger scale, its 四至, the blocks
//! (居委/村) it holds with their population and area, its facilities by name and status, its coverage per service
//! type and its findings — plus the block table of the whole plan and one small coverage map per service type.
//!
//! Everything is read from the outcome and the study area, like the rest of the dossier: nothing is measured again
//! except the 四至 ([`super::sizhi`]) and which facilities and given blocks lie in which unit.

use super::i18n::{self, Label, Lang};
use super::sizhi::{self, Bound, Features, Sizhi};
use super::{esc, fmt_int, svg, MapData};
use crate::model::{FacilityStatus, StudyArea};
use crate::run::Outcome;
use crate::validate::{CheckName, CheckResult, UnitReport, Validation};
use geo::{Area, Contains, InteriorPoint};
use std::fmt::Write as _;

/// One block of the plan.
pub struct BlockRow {
    /// The block's id (the 居委/村 name when the blocks layer gives one as id).
    pub id: String,
    /// The unit holding it, when one does.
    pub unit: Option<String>,
    /// Its population, when known.
    pub population: Option<f64>,
    /// Its area, km².
    pub area_km2: f64,
}

/// Every block with its unit: propose's blocks as the best candidate assigned them, or a given blocks layer with
/// each block in the unit that holds its interior point.
pub fn block_rows(area: &StudyArea, outcome: &Outcome) -> Vec<BlockRow> {
    if let Some(p) = &outcome.proposal {
        let mut unit_of: Vec<Option<String>> = vec![None; p.blocks.ids.len()];
        for u in p.units.first().into_iter().flatten() {
            for &m in &u.members {
                if let Some(slot) = unit_of.get_mut(m) {
                    *slot = Some(u.id.clone());
                }
            }
        }
        return (0..p.blocks.ids.len())
            .map(|b| BlockRow {
                id: p.blocks.ids[b].clone(),
                unit: unit_of[b].clone(),
                population: p.blocks.population.get(b).copied(),
                area_km2: p.blocks.area.get(b).copied().unwrap_or(0.0) / 1e6,
            })
            .collect();
    }
    let Some(blocks) = &area.blocks else {
        return Vec::new();
    };
    blocks
        .iter()
        .map(|b| BlockRow {
            id: b.id.clone(),
            unit: b.geometry.interior_point().and_then(|p| {
                outcome
                    .units
                    .iter()
                    .find(|u| u.geometry.contains(&p))
                    .map(|u| u.id.clone())
            }),
            population: b.population,
            area_km2: b.geometry.unsigned_area() / 1e6,
        })
        .collect()
}

/// "东至华江公路、金园一路，南至合成河道 7，西至（相邻单元 U03），北至（镇界）"; feature names marked up so that a
/// reader (and a test) can tell them from the neighbours and the town boundary.
pub fn sizhi_html(s: &Sizhi, lang: Lang) -> String {
    let sides_en = ["east", "south", "west", "north"];
    let parts: Vec<String> = s
        .sides
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.is_empty())
        .map(|(k, bounds)| {
            let names: Vec<String> = bounds
                .iter()
                .map(|b| match b {
                    Bound::Feature(n) => format!("<span class=\"sizhi-feature\">{}</span>", esc(n)),
                    Bound::Unit(id) => match lang {
                        Lang::Zh => format!("（相邻单元 {}）", esc(id)),
                        Lang::English => format!("(neighbouring unit {})", esc(id)),
                    },
                    Bound::Town => Label::SizhiTown.text(lang).into(),
                    Bound::Unassigned => Label::SizhiUnassigned.text(lang).into(),
                })
                .collect();
            match lang {
                Lang::Zh => format!("{}至{}", sizhi::SIDES[k], names.join("、")),
                Lang::English => format!("{}: {}", sides_en[k], names.join(", ")),
            }
        })
        .collect();
    match lang {
        Lang::Zh => format!("{}。", parts.join("，")),
        Lang::English => format!("{}.", parts.join("; ")),
    }
}

/// The whole plan's block table.
pub fn plan_blocks(h: &mut String, rows: &[BlockRow], lang: Lang) {
    let _ = write!(
        h,
        "<section id=\"blocks\" class=\"break\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n",
        Label::PlanBlocks.text(lang),
        Label::PlanBlocksNote.text(lang)
    );
    block_table(h, rows.iter(), true, lang);
    h.push_str("</section>\n");
}

fn block_table<'a>(h: &mut String, rows: impl Iterator<Item = &'a BlockRow>, with_unit: bool, lang: Lang) {
    let _ = write!(
        h,
        "<table class=\"plain blocks\">\n<thead><tr><th>{}</th>{}<th class=\"num\">{}</th>\
         <th class=\"num\">{}</th></tr></thead>\n<tbody>\n",
        Label::Block.text(lang),
        if with_unit {
            format!("<th>{}</th>", Label::Unit.text(lang))
        } else {
            String::new()
        },
        Label::ResidentsPeople.text(lang),
        Label::AreaKm2.text(lang)
    );
    let (mut pop, mut area, mut any_pop) = (0.0, 0.0, false);
    for r in rows {
        let unit = if with_unit {
            format!(
                "<td>{}</td>",
                r.unit.as_deref().map_or_else(|| "–".to_string(), esc)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td>{unit}<td class=\"num\">{}</td><td class=\"num\">{:.2}</td></tr>",
            esc(&r.id),
            r.population.map_or("–".into(), fmt_int),
            r.area_km2
        );
        if let Some(p) = r.population {
            pop += p;
            any_pop = true;
        }
        area += r.area_km2;
    }
    let _ = writeln!(
        h,
        "</tbody>\n<tfoot><tr><th>{}</th>{}<th class=\"num\">{}</th><th class=\"num\">{area:.2}</th></tr></tfoot>\n\
         </table>",
        Label::Total.text(lang),
        if with_unit { "<th></th>" } else { "" },
        if any_pop { fmt_int(pop) } else { "–".into() }
    );
}

/// One small map per service type (the coverage the main map no longer hatches).
pub fn coverage_maps(h: &mut String, data: &MapData, lang: Lang) {
    if data.service_types.is_empty() || data.units.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<section id=\"coverage\" class=\"break\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n<div class=\"small-maps\">",
        Label::CoverageByType.text(lang),
        esc(&match lang {
            Lang::Zh => format!(
                "每类设施一图：虚线圆为 {} 米服务半径，红色斜线为单元内未覆盖的部分。",
                fmt_int(data.service_radius_m)
            ),
            Lang::English => format!(
                "One map per facility type: dashed circles are the {} m service radius, red hatching the parts of \
                 units outside it.",
                fmt_int(data.service_radius_m)
            ),
        })
    );
    for &t in &data.service_types {
        let _ = write!(
            h,
            "<figure class=\"small\">{}</figure>",
            svg::coverage_map(data, t, lang)
        );
    }
    h.push_str("</div>\n</section>\n");
}

/// A page per unit.
pub fn unit_pages(h: &mut String, area: &StudyArea, outcome: &Outcome, data: &MapData, lang: Lang) {
    let features = Features::new(data.lines.iter().copied());
    let blocks = block_rows(area, outcome);
    let validation = outcome.validation.as_ref();
    for (i, u) in data.units.iter().enumerate() {
        let report = validation.and_then(|v| v.units.iter().find(|r| r.unit_id == u.id));
        let neighbours: Vec<(&str, &geo::MultiPolygon<f64>)> = data
            .units
            .iter()
            .filter(|o| o.id != u.id)
            .map(|o| (o.id.as_str(), &o.geometry))
            .collect();
        let s = sizhi::sizhi(&u.geometry, &features, &neighbours, data.town.as_ref());
        let badge = match u.pass {
            Some(true) => format!("<span class=\"badge pass\">✓ {}</span>", Label::Pass.text(lang)),
            Some(false) => format!("<span class=\"badge fail\">✗ {}</span>", Label::Fail.text(lang)),
            None => String::new(),
        };
        let _ = write!(
            h,
            "<section class=\"unit-page break\" id=\"unit-{id}\" data-unit=\"{id}\">\n<h2>{} {id} {badge}</h2>\n\
             <dl class=\"meta\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{:.2} km²</dd><dt>{}</dt>\
             <dd class=\"sizhi\" data-features=\"{}\">{}</dd></dl>\n<figure class=\"map unit-map\">\n{}</figure>\n",
            Label::Unit.text(lang),
            Label::Residents.text(lang),
            u.population
                .map_or("–".into(), |p| format!("{} {}", fmt_int(p), Label::People.text(lang))),
            Label::Area.text(lang),
            u.area_km2,
            Label::Sizhi.text(lang),
            s.features().len(),
            sizhi_html(&s, lang),
            svg::unit_map(data, i, lang),
            id = esc(&u.id)
        );
        let _ = write!(h, "<h3>{}</h3>", Label::BlocksHeld.text(lang));
        let mine: Vec<&BlockRow> = blocks
            .iter()
            .filter(|b| b.unit.as_deref() == Some(u.id.as_str()))
            .collect();
        if mine.is_empty() {
            let _ = write!(h, "<p class=\"note\">{}</p>", Label::NoBlocksLayer.text(lang));
        } else {
            block_table(h, mine.into_iter(), false, lang);
        }
        facilities(h, data, i, lang);
        if let (Some(v), Some(r)) = (validation, report) {
            coverage(h, data, v, r, lang);
            let _ = write!(h, "<h3>{}</h3>", Label::Findings.text(lang));
            if r.pass {
                let _ = write!(h, "<p>{}</p>", Label::UnitPasses.text(lang));
            } else {
                super::html::unit_findings(h, v, r, lang);
            }
            super::html::unit_accepted(h, v, r, lang);
        }
        h.push_str("</section>\n");
    }
}

fn facilities(h: &mut String, data: &MapData, unit: usize, lang: Lang) {
    let Some(u) = data.units.get(unit) else { return };
    let inside: Vec<_> = data
        .facilities
        .iter()
        .filter(|f| u.geometry.contains(&f.location))
        .collect();
    let _ = write!(h, "<h3>{}</h3>", Label::FacilitiesHeading.text(lang));
    if inside.is_empty() {
        let _ = write!(h, "<p class=\"note\">{}</p>", Label::NoFacilityInUnit.text(lang));
        return;
    }
    let _ = write!(
        h,
        "<table class=\"plain facilities\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        Label::Name.text(lang),
        Label::Type.text(lang),
        Label::Status.text(lang)
    );
    for f in inside {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(f.name.as_deref().unwrap_or(&f.id)),
            i18n::facility(lang, f.kind),
            match f.status {
                FacilityStatus::Existing => Label::Existing.text(lang),
                FacilityStatus::Planned => Label::Planned.text(lang),
            }
        );
    }
    h.push_str("</tbody></table>\n");
}

fn coverage(h: &mut String, data: &MapData, v: &Validation, r: &UnitReport, lang: Lang) {
    let Some(CheckResult::Evaluated(e)) = r.checks.get(&CheckName::ServiceCoverage) else {
        return;
    };
    let _ = write!(
        h,
        "<h3>{}</h3><table class=\"plain compact coverage\"><thead><tr><th>{}</th><th class=\"num\">{}</th>\
         <th>{}</th></tr></thead><tbody>",
        Label::ServiceCoverage.text(lang),
        Label::Type.text(lang),
        esc(&match lang {
            Lang::Zh => format!("{} 米内居民占比", fmt_int(data.service_radius_m)),
            Lang::English => format!("Residents within {} m", fmt_int(data.service_radius_m)),
        }),
        Label::Result.text(lang)
    );
    for &t in &data.service_types {
        let Some(share) = e
            .detail
            .get(&format!("{}_share", t.name()))
            .and_then(|s| s.as_f64())
        else {
            continue;
        };
        let pass = share >= v.thresholds.service_share;
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{:.0}%</td><td class=\"{}\">{}</td></tr>",
            i18n::facility(lang, t),
            share * 100.0,
            if pass { "pass" } else { "fail" },
            if pass {
                format!("✓ {}", Label::Pass.text(lang))
            } else {
                format!("✗ {}", Label::Fail.text(lang))
            }
        );
    }
    h.push_str("</tbody></table>\n");
}

//! The dossier: one self-contained HTML file a planner hands to the district.
//!
//! Inline CSS and the inline SVG map only — no script, no external style sheet, font or tile — so the file opens
//! the same in any browser, offline, years later, and prints on A4 (`@page`, rows that never split, big sections
//! on fresh pages). Every text that comes from input files (ids, names, reasons) is escaped.

use super::i18n::{self, Label, Lang};
use super::json::unassigned_blocks;
use super::{candidate_validations, candidates, esc, fmt_int, svg, synthetic, unit_page, MapData};
use crate::model::{FacilityType, StudyArea};
use crate::run::Outcome;
use crate::validate::{
    reason, Check, CheckName, CheckResult, Evaluated, ProblemKind, Registry, UnitReport, Validation,
};
use crate::Result;
use geo::{Area, Geometry, Polygon};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const CSS: &str = r#"
@page { size: A4; margin: 15mm 13mm 16mm; }
:root { --ink: #1f2a33; --muted: #5b6670; --line: #d6dce2; --soft: #f3f5f8; --accent: #1d4e89;
  --pass: #1e7b34; --pass-bg: #e9f5eb; --fail: #b42318; --fail-bg: #fcebe8; --na: #8a949c; }
* { box-sizing: border-box; }
html { font-family: "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC",
  "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif; color: var(--ink); background: #e9ecef; }
body { max-width: 1060px; margin: 24px auto; padding: 36px 44px 28px; background: #fff; font-size: 14px;
  line-height: 1.6; box-shadow: 0 1px 6px rgba(0,0,0,.12); }
header.cover { border-bottom: 3px solid var(--accent); padding-bottom: 14px; margin-bottom: 8px; }
.kicker { margin: 0; color: var(--accent); font-weight: 700; letter-spacing: .12em; font-size: 13px; }
h1 { margin: 4px 0 2px; font-size: 28px; line-height: 1.3; }
.subtitle { margin: 0 0 12px; color: var(--muted); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; font-size: 13px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
nav.toc { font-size: 13px; color: var(--muted); margin: 10px 0 0; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
h2 { font-size: 19px; margin: 30px 0 12px; padding-left: 10px; border-left: 5px solid var(--accent);
  break-after: avoid; }
h3 { font-size: 15px; margin: 14px 0 6px; break-after: avoid; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin-bottom: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; background: var(--soft); }
.card .n { display: block; font-size: 25px; font-weight: 700; line-height: 1.2; }
.card .l { color: var(--muted); font-size: 12.5px; }
.card.ok .n { color: var(--pass); } .card.bad .n { color: var(--fail); }
figure.map { margin: 0; border: 1px solid var(--line); }
figure.map svg { display: block; width: 100%; height: auto; }
figure.map figcaption { font-size: 12px; color: var(--muted); padding: 6px 10px; border-top: 1px solid var(--line); }
table { width: 100%; border-collapse: collapse; font-size: 12.5px; }
th, td { padding: 5px 6px; border-bottom: 1px solid var(--line); vertical-align: middle; }
thead th { background: #e8eef5; font-weight: 700; border-bottom: 2px solid #b8c4d0; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th a { color: var(--ink); text-decoration: none; border-bottom: 1px dotted var(--accent); }
th small { display: block; font-weight: 400; color: var(--muted); font-size: 11px; white-space: nowrap; }
table.checks th, table.checks td { text-align: center; }
table.checks td.id, table.checks th.id { text-align: left; font-weight: 700; white-space: nowrap; }
td .mark { display: block; font-weight: 700; font-size: 14px; line-height: 1.1; }
td .val { display: block; font-size: 11.5px; white-space: nowrap; }
td.pass .mark { color: var(--pass); }
td.fail { background: var(--fail-bg); } td.fail .mark { color: var(--fail); }
td.na, td.na .mark { color: var(--na); }
td.info .mark { color: var(--muted); font-weight: 400; }
td.result { font-weight: 700; white-space: nowrap; }
td.result.pass { color: var(--pass); background: var(--pass-bg); }
td.result.fail { color: var(--fail); }
table.plain td, table.plain th { text-align: left; }
table.compact { width: auto; min-width: 50%; }
table.compact td { padding-right: 28px; }
table.plain td.num, table.plain th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: var(--pass-bg); font-weight: 700; }
.note { font-size: 12.5px; color: var(--muted); margin: 6px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
  vertical-align: -1px; }
ul.findings { margin: 0 0 8px; padding-left: 20px; }
ul.findings li { margin: 2px 0; break-inside: avoid; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 700; }
.badge.fail { background: var(--fail-bg); color: var(--fail); }
.badge.pass { background: var(--pass-bg); color: var(--pass); }
article.basis { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; margin: 0 0 10px;
  break-inside: avoid; }
article.basis h3 { margin: 0 0 6px; }
article.basis:target { border-color: var(--accent); box-shadow: 0 0 0 2px rgba(29,78,137,.25); }
.clause { display: inline-block; background: var(--accent); color: #fff; border-radius: 4px; padding: 0 7px;
  font-size: 12px; margin-left: 8px; vertical-align: 2px; }
blockquote { margin: 4px 0 8px; padding: 4px 12px; border-left: 3px solid #c9a227; background: #fbf8ee; }
blockquote.paraphrase { border-left-color: #9aa3ab; background: var(--soft); }
blockquote .tr { display: block; color: var(--muted); font-size: 12.5px; }
article.basis dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0;
  font-size: 13px; }
article.basis dt { color: var(--muted); }
article.basis dd { margin: 0; }
footer { margin-top: 30px; padding-top: 8px; border-top: 1px solid var(--line); font-size: 12px;
  color: var(--muted); }
@media print {
  html { background: #fff; }
  body { max-width: none; margin: 0; padding: 0; box-shadow: none; font-size: 10pt; }
  h1 { font-size: 20pt; }
  h2 { font-size: 14pt; }
  .break { break-before: page; }
  nav.toc { display: none; }
  figure.map { break-inside: avoid; }
  figure.map svg { max-height: 232mm; }
  table { font-size: 8.5pt; }
  td .mark { font-size: 10pt; }
  td .val, th small { font-size: 7.5pt; }
  th a { border-bottom: none; }
  a { color: inherit; }
  .synthetic-banner { position: fixed; top: 0; left: 0; right: 0; }
  body { padding-top: 9mm; }
  section.unit-page figure.map svg { max-height: 150mm; }
  .small-maps { grid-template-columns: 1fr 1fr; }
}
.synthetic-banner { background: #fff4ce; color: #7a4b00; border: 1px solid #e0b44c; padding: 4px 10px;
  font-size: 12px; font-weight: 700; z-index: 10; }
.small-maps { display: grid; grid-template-columns: repeat(2, 1fr); gap: 10px; }
figure.small { margin: 0; border: 1px solid var(--line); break-inside: avoid; }
figure.small svg { display: block; width: 100%; height: auto; }
figure.small figcaption { font-size: 12px; color: var(--muted); padding: 4px 8px; }
section.unit-page dl.meta { margin-bottom: 10px; }
dd.sizhi { font-weight: 700; }
.sizhi-feature { color: var(--accent); }
table.blocks tfoot th { text-align: right; border-top: 2px solid #b8c4d0; }
table.blocks tfoot th:first-child { text-align: left; }
"#;

/// The dossier of `outcome` on `area`, as a complete HTML document.
pub fn dossier(area: &StudyArea, outcome: &Outcome, lang: Lang) -> Result<String> {
    let candidates = candidate_validations(area, outcome)?;
    let mut h = String::with_capacity(512 * 1024);
    let title = format!("{} · {}", area.name, Label::Title.text(lang));
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"bmu {}\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        lang.code(),
        env!("CARGO_PKG_VERSION"),
        esc(&title)
    );
    let synthetic = synthetic::synthetic_inputs(area);
    banner(&mut h, &synthetic, lang);
    cover(&mut h, area, outcome, lang);
    summary(&mut h, area, outcome, lang);
    map(&mut h, area, outcome, lang);
    let data = MapData::new(area, outcome);
    unit_page::coverage_maps(&mut h, &data, lang);
    if let Some(v) = &outcome.validation {
        checks_table(&mut h, v, lang);
        findings(&mut h, v, lang);
    }
    if let Some(p) = &outcome.report.proposed_sites {
        proposed_sites(&mut h, p, lang);
    }
    unit_page::unit_pages(&mut h, area, outcome, &data, lang);
    let blocks = unit_page::block_rows(area, outcome);
    if !blocks.is_empty() {
        unit_page::plan_blocks(&mut h, &blocks, lang);
    }
    if outcome.proposal.is_some() {
        compare_candidates(&mut h, outcome, &candidates, lang);
        candidates::candidate_maps(&mut h, area, outcome, &candidates, lang);
        unassigned(&mut h, outcome, lang);
    }
    let registry = outcome
        .validation
        .as_ref()
        .map_or_else(Registry::standard, |v| v.registry.clone());
    policy_basis(&mut h, area, &registry, lang);
    data_sources(&mut h, area, lang);
    let _ = write!(
        h,
        "<footer>{} {} · {}</footer>\n</body>\n</html>\n",
        Label::Generated.text(lang),
        env!("CARGO_PKG_VERSION"),
        Label::Document.text(lang)
    );
    Ok(h)
}

/// The population source as the report names it, with the grid's file name instead of its full path (a dossier
/// does not change with the folder it was made in), in the dossier's language. The source describes itself in
/// English for the JSON report and the log; the dossier names each kind of source from the i18n table instead.
fn population_source(area: &StudyArea, outcome: &Outcome, lang: Lang) -> Option<String> {
    let mut s = outcome.population_source.clone()?;
    let file_name = |p: &std::path::Path| {
        p.file_name()
            .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
    };
    let population = area.config.population.as_ref();
    if let Some(grid) = population.and_then(|p| p.grid.as_deref()) {
        s = s.replace(&grid.display().to_string(), &file_name(grid));
    }
    let translated = if let Some(rest) = s.strip_prefix("grid ") {
        rest.strip_suffix(" (exact cell fractions)").map(|f| {
            format!(
                "{} {f}（{}）",
                Label::PopGrid.text(lang),
                Label::PopGridMethod.text(lang)
            )
        })
    } else if let Some(rest) = s.strip_prefix("points ") {
        rest.strip_suffix(" (point in polygon)").map(|f| {
            format!(
                "{} {f}（{}）",
                Label::PopPoints.text(lang),
                Label::PopPointsMethod.text(lang)
            )
        })
    } else {
        s.strip_suffix(" block counts (areal weighting)")
            .map(|n| format!("{n} {}", Label::PopBlockCounts.text(lang)))
    };
    Some(match lang {
        Lang::English => s,
        Lang::Zh => translated.unwrap_or(s),
    })
}

/// A banner repeated on every printed page (a fixed element prints on each page) when any input is synthetic: a
/// demonstration must never pass for a submission.
fn banner(h: &mut String, synthetic: &[String], lang: Lang) {
    if synthetic.is_empty() {
        return;
    }
    let text = match lang {
        Lang::Zh => format!(
            "示例数据：本报告使用合成（模拟）数据，仅供演示，不得作为申报依据。合成数据文件：{}",
            synthetic.join("、")
        ),
        Lang::English => format!(
            "Synthetic data: this dossier uses made-up data for demonstration only; it is not a submission. \
             Synthetic inputs: {}",
            synthetic.join(", ")
        ),
    };
    let _ = writeln!(
        h,
        "<div class=\"synthetic-banner\" role=\"note\">{}</div>",
        esc(&text)
    );
}

fn cover(h: &mut String, area: &StudyArea, outcome: &Outcome, lang: Lang) {
    let kind = if outcome.proposal.is_some() {
        Label::KindPropose
    } else {
        Label::KindValidate
    };
    let _ = write!(
        h,
        "<header class=\"cover\">\n<p class=\"kicker\">{}</p>\n<h1>{}</h1>\n<p class=\"subtitle\">{} · {}</p>\n\
         <dl class=\"meta\">",
        Label::Title.text(lang),
        esc(area.config.report.title.as_deref().unwrap_or(&area.name)),
        kind.text(lang),
        Label::Document.text(lang)
    );
    let r = &area.config.report;
    for (k, v) in [
        (lang.pick("编制单位", "Prepared by"), &r.author),
        (lang.pick("日期", "Date"), &r.date),
    ] {
        if let Some(v) = v {
            let _ = write!(h, "<dt>{k}</dt><dd>{}</dd>", esc(v));
        }
    }
    let mut row = |k: Label, v: String| {
        let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", k.text(lang), v);
    };
    row(Label::WorkingCrs, esc(&area.working_crs.to_string()));
    row(
        Label::PopulationSource,
        population_source(area, outcome, lang)
            .map_or_else(|| Label::NoPopulationSource.text(lang).into(), |s| esc(&s)),
    );
    if let Some(p) = &outcome.proposal {
        let mut blocks = format!(
            "{} · {}",
            p.blocks.ids.len(),
            if p.blocks.derived {
                Label::BlocksDerived.text(lang)
            } else {
                Label::BlocksGiven.text(lang)
            }
        );
        if !p.blocks.inferred.is_empty() {
            let _ = write!(
                blocks,
                " · {} {}",
                p.blocks.inferred.len(),
                Label::InferredSegments.text(lang)
            );
        }
        row(Label::Blocks, blocks);
    }
    h.push_str("</dl>\n<nav class=\"toc\">");
    let mut links = vec![
        ("summary", Label::Summary),
        ("map", Label::Map),
        ("units", Label::UnitChecks),
        ("findings", Label::Findings),
    ];
    if outcome.proposal.is_some() {
        links.push(("blocks", Label::Blocks));
        links.push(("candidates", Label::Candidates));
        links.push(("unassigned", Label::Unassigned));
    }
    links.push(("policy", Label::PolicyBasis));
    links.push(("data", Label::DataSources));
    for (id, l) in links {
        if outcome.validation.is_none() && matches!(l, Label::UnitChecks | Label::Findings) {
            continue;
        }
        let _ = write!(h, "<a href=\"#{id}\">{}</a>", l.text(lang));
    }
    h.push_str("</nav>\n</header>\n");
}

fn summary(h: &mut String, _area: &StudyArea, outcome: &Outcome, lang: Lang) {
    let _ = writeln!(
        h,
        "<section id=\"summary\">\n<h2>{}</h2>",
        Label::Summary.text(lang)
    );
    let Some(v) = &outcome.validation else {
        let _ = writeln!(h, "<p>{}: 0</p>\n</section>", Label::Units.text(lang));
        return;
    };
    let s = &v.summary;
    let population: Option<f64> = v.units.iter().map(|u| u.population).sum();
    let area: f64 = v.units.iter().map(|u| u.area_km2).sum();
    h.push_str("<div class=\"cards\">");
    let mut card = |class: &str, n: String, l: &str| {
        let _ = write!(
            h,
            "<div class=\"card {class}\"><span class=\"n\">{n}</span><span class=\"l\">{l}</span></div>"
        );
    };
    card("", s.units.to_string(), Label::Units.text(lang));
    card(
        if s.passing == s.units { "ok" } else { "bad" },
        format!("{} / {}", s.passing, s.units),
        Label::Passing.text(lang),
    );
    card(
        "",
        population.map_or("–".into(), fmt_int),
        Label::TotalPopulation.text(lang),
    );
    card(
        "",
        format!("{area:.2}"),
        &format!("{} (km²)", Label::TotalArea.text(lang)),
    );
    h.push_str("</div>\n");
    if s.passing == s.units {
        let _ = writeln!(h, "<p>{}</p>", Label::AllPass.text(lang));
    }
    let _ = write!(h, "<h3>{}</h3>", Label::Problems.text(lang));
    if s.problems.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", Label::NoProblems.text(lang));
    } else {
        h.push_str("<table class=\"plain compact\"><tbody>");
        for (kind, n) in &s.problems {
            if *kind == ProblemKind::Uncovered {
                uncovered_rows(h, v, lang);
                continue;
            }
            let (area_m2, length_m) = v
                .problems
                .iter()
                .filter(|p| p.kind == *kind)
                .fold((0.0, 0.0), |(a, l), p| {
                    (a + p.area_m2.unwrap_or(0.0), l + p.length_m.unwrap_or(0.0))
                });
            let size = if length_m > 0.0 {
                format!("{} m", fmt_int(length_m))
            } else {
                reason::area(area_m2)
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"num\">{n}</td><td class=\"num\">{size}</td></tr>",
                i18n::problem(lang, *kind)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    if !s.not_evaluated.is_empty() {
        let _ = write!(
            h,
            "<h3>{}</h3><ul class=\"findings\">",
            Label::NotEvaluated.text(lang)
        );
        for (c, reason) in &s.not_evaluated {
            let _ = write!(
                h,
                "<li><b>{}</b>: {}</li>",
                label(&v.registry, *c, lang),
                esc(&reason.text(lang))
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");
}

/// The area outside the service radius, one row per service type: the union of that type's uncovered pieces.
/// Summed over the types, the same ground counts once per service that misses it (74 km² "uncovered" in a 42 km²
/// town); and in a drawn partition two overlapping units may share a piece.
fn uncovered_rows(h: &mut String, v: &Validation, lang: Lang) {
    let mut by_service: BTreeMap<&str, (usize, Vec<Polygon<f64>>)> = BTreeMap::new();
    for p in v.problems.iter().filter(|p| p.kind == ProblemKind::Uncovered) {
        let service = p.detail.get("service").map_or("", String::as_str);
        let entry = by_service.entry(service).or_default();
        entry.0 += 1;
        match &p.geometry {
            Geometry::Polygon(g) => entry.1.push(g.clone()),
            Geometry::MultiPolygon(g) => entry.1.extend(g.0.iter().cloned()),
            _ => {}
        }
    }
    for (service, (n, polygons)) in by_service {
        let union = geo::unary_union(&polygons);
        let name = FacilityType::parse(service).map_or(service, |f| i18n::facility(lang, f));
        let _ = write!(
            h,
            "<tr><td>{} · {}</td><td class=\"num\">{n}</td><td class=\"num\">{}</td></tr>",
            i18n::problem(lang, ProblemKind::Uncovered),
            esc(name),
            reason::area(union.unsigned_area())
        );
    }
}

fn map(h: &mut String, area: &StudyArea, outcome: &Outcome, lang: Lang) {
    let data = MapData::new(area, outcome);
    let _ = write!(
        h,
        "<section id=\"map\" class=\"break\">\n<h2>{}</h2>\n<figure class=\"map\">\n{}<figcaption>{}</figcaption>\
         </figure>\n</section>\n",
        Label::Map.text(lang),
        svg::map(&data, lang, false),
        esc(&format!(
            "{} · {}: {} · {}",
            area.name,
            Label::WorkingCrs.text(lang),
            area.working_crs,
            Label::NorthNote.text(lang)
        ))
    );
}

/// A check's column header, or its name when the registry does not know it.
fn label(registry: &Registry, c: CheckName, lang: Lang) -> &'static str {
    registry.get(c).map_or(c.name(), |k| i18n::check(lang, k))
}

fn checks_table(h: &mut String, v: &Validation, lang: Lang) {
    let _ = write!(
        h,
        "<section id=\"units\" class=\"break\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n\
         <table class=\"checks\">\n<thead><tr><th class=\"id\">{}</th>",
        Label::UnitChecks.text(lang),
        Label::MarkLegend.text(lang),
        Label::Unit.text(lang)
    );
    for c in v.registry.iter() {
        let _ = write!(
            h,
            "<th scope=\"col\"><a href=\"#rule-{}\">{}</a><small>{}</small></th>",
            c.name(),
            i18n::check(lang, c),
            esc(&c.short_threshold(&v.thresholds))
        );
    }
    let _ = writeln!(h, "<th>{}</th></tr></thead>\n<tbody>", Label::Result.text(lang));
    for u in &v.units {
        let _ = write!(
            h,
            "<tr data-unit=\"{id}\"><td class=\"id\">{id}</td>",
            id = esc(&u.unit_id)
        );
        for c in v.registry.iter() {
            cell(h, c, u, lang);
        }
        let _ = writeln!(
            h,
            "<td class=\"result {}\">{}</td></tr>",
            if u.pass { "pass" } else { "fail" },
            if u.pass {
                format!("✓ {}", Label::Pass.text(lang))
            } else {
                format!("✗ {}", Label::Fail.text(lang))
            }
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn cell(h: &mut String, c: &dyn Check, u: &UnitReport, lang: Lang) {
    match u.checks.get(&c.name()) {
        Some(CheckResult::Evaluated(e)) => {
            let (class, mark) = match (c.required(), e.pass) {
                (false, _) => ("info", "·"),
                (true, true) => ("pass", "✓"),
                (true, false) => ("fail", "✗"),
            };
            let value = c.value_text(e);
            let mut title = match e.threshold {
                Some(t) if c.required() => format!("{value} / {t}"),
                _ => value.clone(),
            };
            // A pass with a reason is a pass by an accepted exception: the cell says which.
            if e.pass && c.required() && !e.reasons.is_empty() {
                let why: Vec<String> = e.reasons.iter().map(|r| r.text(lang)).collect();
                title = format!("{title} · {}", why.join("; "));
            }
            let _ = write!(
                h,
                "<td class=\"{class}\" title=\"{}\"><span class=\"mark\">{mark}</span><span class=\"val\">{}\
                 </span></td>",
                esc(&title),
                esc(&value)
            );
        }
        Some(CheckResult::NotEvaluated(n)) => {
            let _ = write!(
                h,
                "<td class=\"na\" title=\"{}\"><span class=\"mark\">–</span><span class=\"val\">{}</span></td>",
                esc(&n.reason.text(lang)),
                Label::NotEvaluatedShort.text(lang)
            );
        }
        None => h.push_str("<td class=\"na\"><span class=\"mark\">–</span></td>"),
    }
}

/// The facilities `bmu site` proposed: one line per unit and type naming the sites and the share they bring.
fn proposed_sites(h: &mut String, p: &crate::site::SitesReport, lang: Lang) {
    let _ = writeln!(
        h,
        "<section id=\"proposed-sites\">\n<h2>{}</h2>\n<p>{}</p>\n<ul class=\"findings\">",
        lang.pick("拟新增设施", "Proposed facilities"),
        esc(&match lang {
            Lang::Zh => format!(
                "共拟新增 {} 处设施（地图上以虚线菱形标出）；不计这些设施时 {} 个单元达标，计入后 {} 个单元达标。",
                p.sites.len(),
                p.passing_before,
                p.passing_after
            ),
            Lang::English => format!(
                "{} new facilities proposed (dashed diamonds on the map); {} units pass without them, {} with them.",
                p.sites.len(),
                p.passing_before,
                p.passing_after
            ),
        })
    );
    for f in &p.findings {
        let _ = writeln!(h, "<li>{}</li>", esc(&f.data.text(lang)));
    }
    h.push_str("</ul>\n</section>\n");
}

fn findings(h: &mut String, v: &Validation, lang: Lang) {
    let _ = writeln!(
        h,
        "<section id=\"findings\">\n<h2>{}</h2>",
        Label::Findings.text(lang)
    );
    let failing: Vec<&UnitReport> = v.units.iter().filter(|u| !u.pass).collect();
    if failing.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", Label::AllPass.text(lang));
    }
    for u in failing {
        let _ = writeln!(
            h,
            "<h3>{} <span class=\"badge fail\">✗ {}</span></h3>",
            esc(&u.unit_id),
            Label::Fail.text(lang)
        );
        unit_findings(h, v, u, lang);
    }
    h.push_str("</section>\n");
}

/// The failed required checks of one unit, as a list: in the findings section and on the unit's page.
pub(super) fn unit_findings(h: &mut String, v: &Validation, u: &UnitReport, lang: Lang) {
    h.push_str("<ul class=\"findings\">");
    // The block keeps the loop at the indentation it had inside `findings`, so that edits made to it on other
    // branches (structured reasons) still merge line by line; it can go once they have.
    {
        for (c, r) in &u.checks {
            let CheckResult::Evaluated(e) = r else { continue };
            let Some(check) = v.registry.get(*c) else { continue };
            if e.pass || !check.required() {
                continue;
            }
            let mut text: Vec<String> = Vec::new();
            if *c == CheckName::Facilities {
                if let Some(missing) = e.detail.get("missing").and_then(|m| m.as_array()) {
                    let names: Vec<String> = missing
                        .iter()
                        .filter_map(|m| m.as_str())
                        .map(|m| {
                            FacilityType::parse(m).map_or(m.to_string(), |f| i18n::facility(lang, f).into())
                        })
                        .collect();
                    if !names.is_empty() {
                        text.push(format!(
                            "{}{}",
                            if lang == Lang::Zh {
                                "缺少："
                            } else {
                                "missing: "
                            },
                            names.join(if lang == Lang::Zh { "、" } else { ", " })
                        ));
                    }
                }
            }
            if *c == CheckName::ServiceCoverage {
                text.extend(service_shortfalls(e, &v.thresholds, lang));
            }
            if text.is_empty() {
                text = e.reasons.iter().map(|r| r.text(lang)).collect();
            }
            if text.is_empty() {
                text.push(check.value_text(e));
            }
            let _ = write!(
                h,
                "<li><a href=\"#rule-{}\"><b>{}</b></a>{}{}</li>",
                c.name(),
                i18n::check(lang, check),
                if lang == Lang::Zh { "：" } else { ": " },
                esc(&text.join(if lang == Lang::Zh { "；" } else { "; " }))
            );
        }
        h.push_str("</ul>\n");
    }
}

/// What the checks accepted on the unit's behalf (a unit in several parts whose exclave a road joins to its main
/// part), as a list after its findings; nothing when there is none.
pub(super) fn unit_accepted(h: &mut String, v: &Validation, u: &UnitReport, lang: Lang) {
    let mut items = String::new();
    for (c, r) in &u.checks {
        let CheckResult::Evaluated(e) = r else { continue };
        let Some(check) = v.registry.get(*c) else { continue };
        let accepted: Vec<String> = e
            .reasons
            .iter()
            .filter(|r| e.pass && matches!(r, crate::validate::Reason::ExclaveJoinedByRoad { .. }))
            .map(|r| r.text(lang))
            .collect();
        if accepted.is_empty() {
            continue;
        }
        let _ = write!(
            items,
            "<li><a href=\"#rule-{}\"><b>{}</b></a>{}{}</li>",
            c.name(),
            i18n::check(lang, check),
            if lang == Lang::Zh { "：" } else { ": " },
            esc(&accepted.join(if lang == Lang::Zh { "；" } else { "; " }))
        );
    }
    if !items.is_empty() {
        let _ = writeln!(h, "<ul class=\"accepted\">{items}</ul>");
    }
}

/// Each service type below its share, in the dossier's language.
fn service_shortfalls(e: &Evaluated, t: &crate::config::Thresholds, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    for (key, share) in &e.detail {
        let (Some(kind), Some(share)) = (key.strip_suffix("_share"), share.as_f64()) else {
            continue;
        };
        if share >= t.service_share {
            continue;
        }
        let name =
            FacilityType::parse(kind).map_or(kind.to_string(), |f| i18n::facility(lang, f).to_string());
        out.push(match lang {
            Lang::Zh => format!(
                "{name}：{} 米内居民占 {:.0}%（需 ≥ {:.0}%）",
                fmt_int(t.service_radius_m),
                share * 100.0,
                t.service_share * 100.0
            ),
            Lang::English => format!(
                "{name}: {:.0} % of residents within {} m (needs ≥ {:.0} %)",
                share * 100.0,
                fmt_int(t.service_radius_m),
                t.service_share * 100.0
            ),
        });
    }
    out
}

fn compare_candidates(h: &mut String, outcome: &Outcome, validations: &[Option<Validation>], lang: Lang) {
    let Some(p) = &outcome.proposal else { return };
    let _ = write!(
        h,
        "<section id=\"candidates\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n<table class=\"plain\">\n<thead><tr>\
         <th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th>\
         <th class=\"num\">{}</th></tr></thead>\n<tbody>\n",
        Label::Candidates.text(lang),
        Label::CandidatesNote.text(lang),
        Label::Rank.text(lang),
        Label::UnitCount.text(lang),
        Label::PassingCount.text(lang),
        Label::Compactness.text(lang),
        Label::Balance.text(lang)
    );
    for (k, c) in p.solution.candidates.iter().enumerate() {
        let passing = validations
            .get(k)
            .and_then(|v| v.as_ref())
            .map_or("–".into(), |v| {
                format!("{} / {}", v.summary.passing, v.summary.units)
            });
        let _ = writeln!(
            h,
            "<tr{}><td class=\"num\">{}{}</td><td class=\"num\">{}</td><td class=\"num\">{passing}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{:.1}%</td></tr>",
            if k == 0 { " class=\"best\"" } else { "" },
            k + 1,
            if k == 0 {
                match lang {
                    Lang::Zh => format!("（{}）", Label::Best.text(lang)),
                    Lang::English => format!(" ({})", Label::Best.text(lang)),
                }
            } else {
                String::new()
            },
            c.p,
            validations
                .get(k)
                .and_then(|v| v.as_ref())
                .and_then(mean_compactness)
                .map_or("–".into(), |m| format!("{m:.2}")),
            c.score.balance * 100.0
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

/// The mean of the units' compactness check: the one compactness the dossier defines (its policy basis card),
/// higher is better, so that the candidates table and the checks table read the same way. max-p's own annealing
/// score (moment of inertia, lower is better) ranks candidates but is not shown.
fn mean_compactness(v: &Validation) -> Option<f64> {
    let values: Vec<f64> = v
        .units
        .iter()
        .filter_map(|u| match u.checks.get(&CheckName::Compactness) {
            Some(CheckResult::Evaluated(e)) => Some(e.value),
            _ => None,
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn unassigned(h: &mut String, outcome: &Outcome, lang: Lang) {
    let Some(p) = &outcome.proposal else { return };
    let rows = unassigned_blocks(p, 0);
    let _ = writeln!(
        h,
        "<section id=\"unassigned\">\n<h2>{}</h2>",
        Label::Unassigned.text(lang)
    );
    if rows.is_empty() {
        let _ = writeln!(h, "<p>{}</p>\n</section>", Label::NoneUnassigned.text(lang));
        return;
    }
    let _ = write!(
        h,
        "<table class=\"plain\">\n<thead><tr><th>{}</th><th>{}</th><th class=\"num\">{}</th>\
         <th class=\"num\">{}</th></tr></thead>\n<tbody>\n",
        Label::Block.text(lang),
        Label::Reason.text(lang),
        Label::ComponentPopulation.text(lang),
        Label::ComponentArea.text(lang)
    );
    for r in rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td></tr>",
            esc(&r.block_id),
            esc(&r.reason),
            fmt_int(r.component_population),
            r.component_area_km2
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn policy_basis(h: &mut String, area: &StudyArea, registry: &Registry, lang: Lang) {
    let t = &area.config.thresholds;
    let _ = writeln!(
        h,
        "<section id=\"policy\" class=\"break\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>",
        Label::PolicyBasis.text(lang),
        Label::Document.text(lang)
    );
    for c in registry.iter() {
        let b = c.basis();
        let _ = write!(
            h,
            "<article class=\"basis\" id=\"rule-{}\">\n<h3>{}<span class=\"clause\">{}</span></h3>\n",
            c.name(),
            i18n::check(lang, c),
            esc(b.clause)
        );
        if !b.text.is_empty() {
            let _ = write!(
                h,
                "<blockquote class=\"{}\" lang=\"zh-CN\">{}{}{}",
                if b.verbatim { "verbatim" } else { "paraphrase" },
                if b.verbatim { "“" } else { "" },
                esc(b.text),
                if b.verbatim { "”" } else { "" }
            );
            if lang == Lang::English {
                let _ = write!(h, "<span class=\"tr\" lang=\"en\">{}</span>", esc(b.translation));
            }
            h.push_str("</blockquote>\n");
        }
        let pick = |p: (&'static str, &'static str)| if lang == Lang::Zh { p.0 } else { p.1 };
        let _ = writeln!(
            h,
            "<dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>\n</article>",
            Label::Rule.text(lang),
            esc(pick(b.rule)),
            Label::Threshold.text(lang),
            esc(&c.threshold(t, lang)),
            Label::Source.text(lang),
            esc(pick(b.source))
        );
    }
    h.push_str("</section>\n");
}

fn data_sources(h: &mut String, area: &StudyArea, lang: Lang) {
    let _ = write!(
        h,
        "<section id=\"data\">\n<h2>{}</h2>\n<table class=\"plain\">\n<thead><tr><th>{}</th><th>{}</th>\
         <th class=\"num\">{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        Label::DataSources.text(lang),
        Label::Role.text(lang),
        Label::Layer.text(lang),
        Label::Features.text(lang),
        Label::Crs.text(lang)
    );
    let name = |p: &std::path::Path| {
        p.file_name()
            .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
    };
    for l in &area.layers {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{} ({})</td></tr>",
            esc(i18n::layer_role(lang, &l.role)),
            esc(&name(&l.path)),
            l.features,
            esc(&l.crs),
            esc(i18n::crs_source(lang, &l.crs_source))
        );
    }
    if let Some(g) = area.config.population.as_ref().and_then(|p| p.grid.as_deref()) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">–</td><td>{}</td></tr>",
            i18n::layer_role(lang, "population"),
            esc(&name(g)),
            esc(area
                .config
                .population
                .as_ref()
                .and_then(|p| p.grid_crs.as_deref())
                .unwrap_or("–"))
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n");
}

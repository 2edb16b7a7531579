//! The map: units coloured by pass/fail with their ids, the town boundary, the linear features by class (inferred
//! lines dashed), facilities with their service radii, and every problem geometry — drawn as SVG in the working CRS,
//! north up, with a scale bar, a north arrow and a legend.
//!
//! One drawing serves the dossier (inline), `--map FILE.svg` and `--map FILE.png` (rendered by resvg), so the three
//! can never disagree. Styling is in presentation attributes rather than CSS so that every SVG renderer (browsers,
//! resvg, QGIS, Inkscape) draws the same map. Coordinates are rounded to 0.1 px and lines simplified below half a
//! pixel: the file stays small and is byte-identical for the same inputs.

use super::i18n::{self, Label, Lang};
use super::{esc, fmt_int, MapData};
use crate::model::{FacilityStatus, FacilityType, FeatureClass};
use crate::validate::ProblemKind;
use geo::{BoundingRect, Coord, Geometry, InteriorPoint, LineString, MultiPolygon, Polygon, Rect, Simplify};
use std::fmt::Write as _;

/// Fonts every label asks for: the common Chinese UI fonts of Windows, macOS and Linux, then any sans-serif.
pub const FONTS: &str = "'Microsoft YaHei', 'PingFang SC', 'Hiragino Sans GB', 'Noto Sans CJK SC', \
                         'Source Han Sans SC', 'WenQuanYi Micro Hei', sans-serif";

/// Width of the drawing in SVG units (pixels at 100 %).
const WIDTH: f64 = 1000.0;
const MARGIN: f64 = 16.0;
/// Tallest map frame, so that map and legend fit one A4 page at the page's width.
const MAX_FRAME_HEIGHT: f64 = 1080.0;

/// Maps working-CRS metres to SVG units, y down.
struct View {
    x0: f64,
    y1: f64,
    scale: f64,
    ox: f64,
    oy: f64,
}

impl View {
    fn x(&self, x: f64) -> f64 {
        self.ox + (x - self.x0) * self.scale
    }
    fn y(&self, y: f64) -> f64 {
        self.oy + (self.y1 - y) * self.scale
    }
}

/// Colours of the classes, facilities and problems: muted fills so that problems and symbols stand out.
mod colour {
    pub const PASS: &str = "#d7ecd9";
    pub const FAIL: &str = "#f7d4cc";
    pub const UNASSIGNED: &str = "#e4e4e4";
    pub const UNIT_EDGE: &str = "#2f3b45";
    pub const TOWN: &str = "#1b1b1b";
    pub const INK: &str = "#1f2a33";
}

fn facility_colour(f: FacilityType) -> &'static str {
    use FacilityType::*;
    match f {
        Affairs => "#1f6fb5",
        Health => "#d1342f",
        Culture => "#7b4fb0",
        Police => "#13315c",
        UrbanManagement => "#2e8b3d",
        MarketSupervision => "#9a5b2e",
        GridCenter => "#6b6b6b",
        HousingStation => "#a3a31a",
        ElderlyCare => "#d45d9e",
        Leisure => "#1aa3b3",
        Transit => "#0b5f8a",
        Park => "#3f9b47",
        Commerce => "#e07b12",
    }
}

/// How a feature class is drawn: (casing colour, casing width) under (colour, width, dash).
fn feature_style(
    c: FeatureClass,
) -> (
    Option<(&'static str, f64)>,
    &'static str,
    f64,
    Option<&'static str>,
) {
    use FeatureClass::*;
    match c {
        Expressway => (Some(("#8a4a0b", 5.2)), "#f4a53a", 3.2, None),
        Arterial => (Some(("#a0721f", 3.4)), "#f7d27a", 2.0, None),
        Road => (None, "#a2a8ae", 1.1, None),
        Path => (None, "#c9cdd1", 0.7, Some("2 2")),
        River => (None, "#3d84c8", 2.8, None),
        Canal => (None, "#7db4e3", 1.5, None),
        Railway => (Some(("#2b2b2b", 3.0)), "#ffffff", 1.6, Some("7 7")),
    }
}

/// How a problem kind is drawn: fill (colour, opacity) or stroke (colour, width).
fn problem_style(k: ProblemKind) -> (&'static str, f64, bool) {
    use ProblemKind::*;
    match k {
        Gap => ("#f2b700", 0.85, true),
        Overlap => ("#8e3fb0", 0.65, true),
        Spill => ("#e8731a", 0.7, true),
        Uncovered => ("url(#bmu-hatch)", 1.0, true),
        SplitBlock => ("#d0306f", 0.45, true),
        UnclearBoundary => ("#e0218a", 3.6, false),
        BarrierCrossing => ("#b3001b", 5.0, false),
    }
}

/// The map, as a complete `<svg>` element. `standalone` adds the XML declaration and a title band.
pub fn map(data: &MapData, lang: Lang, standalone: bool) -> String {
    let Some(extent) = data.extent() else {
        return empty(lang, standalone);
    };
    let (w, h) = (extent.width().max(1.0), extent.height().max(1.0));
    let frame_w = WIDTH - 2.0 * MARGIN;
    let inner = frame_w - 2.0 * 24.0;
    let mut scale = inner / w;
    if h * scale > MAX_FRAME_HEIGHT - 48.0 {
        scale = (MAX_FRAME_HEIGHT - 48.0) / h;
    }
    let frame_h = h * scale + 48.0;
    let title_h = if standalone { 44.0 } else { 0.0 };
    let frame = Rect::new(
        Coord {
            x: MARGIN,
            y: MARGIN + title_h,
        },
        Coord {
            x: MARGIN + frame_w,
            y: MARGIN + title_h + frame_h,
        },
    );
    let view = View {
        x0: extent.min().x,
        y1: extent.max().y,
        scale,
        ox: frame.min().x + (frame_w - w * scale) / 2.0,
        oy: frame.min().y + 24.0,
    };
    let legend = legend_entries(data, lang);
    let columns = 3usize;
    let rows = legend.len().div_ceil(columns);
    let legend_h = 34.0 + rows as f64 * 22.0 + 30.0;
    let total_h = frame.max().y + legend_h + MARGIN;

    let mut s = String::with_capacity(256 * 1024);
    if standalone {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {total_h:.0}\"{} \
         font-family=\"{FONTS}\" role=\"img\" aria-label=\"{}\">",
        // Inline in the dossier the page's CSS sizes the map to the text width.
        if standalone {
            format!(" width=\"{WIDTH}\" height=\"{total_h:.0}\"")
        } else {
            String::new()
        },
        esc(&format!("{} — {}", data.area.name, Label::Map.text(lang))),
    );
    let _ = writeln!(
        s,
        "<defs><clipPath id=\"bmu-frame\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>\
         </clipPath><pattern id=\"bmu-hatch\" patternUnits=\"userSpaceOnUse\" width=\"7\" height=\"7\" \
         patternTransform=\"rotate(45)\"><rect width=\"7\" height=\"7\" fill=\"#5b6b7a\" fill-opacity=\"0.06\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"7\" stroke=\"#5b6b7a\" stroke-width=\"1.2\" stroke-opacity=\"0.45\"/>\
         </pattern></defs>",
        frame.min().x,
        frame.min().y,
        frame.width(),
        frame.height()
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    if standalone {
        let _ = writeln!(
            s,
            "<text x=\"{MARGIN}\" y=\"{:.1}\" font-size=\"22\" font-weight=\"bold\" fill=\"{}\">{}</text>",
            MARGIN + 26.0,
            colour::INK,
            esc(&format!("{} · {}", data.area.name, Label::Map.text(lang)))
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#fbfbf8\" stroke=\"#9aa3ab\" \
         stroke-width=\"1\"/>",
        frame.min().x,
        frame.min().y,
        frame.width(),
        frame.height()
    );
    s.push_str("<g clip-path=\"url(#bmu-frame)\">\n");
    draw_units(&mut s, &view, data);
    draw_features(&mut s, &view, data, &extent);
    draw_unit_edges(&mut s, &view, data);
    draw_town(&mut s, &view, data);
    draw_problems(&mut s, &view, data);
    draw_facilities(&mut s, &view, data);
    draw_labels(&mut s, &view, data, lang);
    s.push_str("</g>\n");
    draw_north_arrow(&mut s, &frame, lang);
    draw_scale_bar(&mut s, &frame, scale, lang);
    draw_legend(&mut s, &legend, frame.max().y + 14.0, columns, lang, data);
    s.push_str("</svg>\n");
    s
}

fn empty(lang: Lang, standalone: bool) -> String {
    let mut s = String::new();
    if standalone {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} 120\" width=\"{WIDTH}\" height=\"120\" \
         font-family=\"{FONTS}\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/><text x=\"20\" y=\"60\" \
         font-size=\"16\">{} — {}</text></svg>",
        Label::Map.text(lang),
        Label::NoProblems.text(lang)
    );
    s
}

/// Appends one ring or line as path data, simplified below half a pixel and rounded to 0.1 px.
fn push_path(d: &mut String, v: &View, line: &LineString<f64>, close: bool) {
    let simplified = line.simplify(0.5 / v.scale);
    let mut last = (f64::NAN, f64::NAN);
    let mut first = true;
    for c in simplified.coords() {
        let p = ((v.x(c.x) * 10.0).round() / 10.0, (v.y(c.y) * 10.0).round() / 10.0);
        if p == last {
            continue;
        }
        let _ = write!(d, "{}{:.1} {:.1}", if first { "M" } else { "L" }, p.0, p.1);
        first = false;
        last = p;
    }
    if close && !first {
        d.push('Z');
    }
}

fn polygon_path(d: &mut String, v: &View, p: &Polygon<f64>) {
    push_path(d, v, p.exterior(), true);
    for hole in p.interiors() {
        push_path(d, v, hole, true);
    }
}

fn multipolygon_path(v: &View, mp: &MultiPolygon<f64>) -> String {
    let mut d = String::new();
    for p in &mp.0 {
        polygon_path(&mut d, v, p);
    }
    d
}

fn draw_units(s: &mut String, v: &View, data: &MapData) {
    s.push_str("<g id=\"units\" stroke=\"none\">\n");
    for b in &data.unassigned {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"{}\" fill-rule=\"evenodd\"/>",
            multipolygon_path(v, b),
            colour::UNASSIGNED
        );
    }
    for u in &data.units {
        let fill = match u.pass {
            Some(false) => colour::FAIL,
            _ => colour::PASS,
        };
        let _ = writeln!(
            s,
            "<path class=\"unit\" d=\"{}\" fill=\"{fill}\" fill-rule=\"evenodd\"><title>{}</title></path>",
            multipolygon_path(v, &u.geometry),
            esc(&u.id)
        );
    }
    s.push_str("</g>\n");
}

fn draw_unit_edges(s: &mut String, v: &View, data: &MapData) {
    let mut d = String::new();
    for u in &data.units {
        d.push_str(&multipolygon_path(v, &u.geometry));
    }
    if !d.is_empty() {
        let _ = writeln!(
            s,
            "<path id=\"unit-edges\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" \
             stroke-linejoin=\"round\"/>",
            colour::UNIT_EDGE
        );
    }
}

fn draw_town(s: &mut String, v: &View, data: &MapData) {
    if let Some(t) = &data.town {
        let d = multipolygon_path(v, t);
        let _ = writeln!(
            s,
            "<path id=\"town\" d=\"{d}\" fill=\"none\" stroke=\"#ffffff\" stroke-width=\"6\" \
             stroke-opacity=\"0.8\" stroke-linejoin=\"round\"/>\n<path d=\"{d}\" fill=\"none\" stroke=\"{}\" \
             stroke-width=\"2.6\" stroke-dasharray=\"14 4 3 4\" stroke-linejoin=\"round\"/>",
            colour::TOWN
        );
    }
}

fn draw_features(s: &mut String, v: &View, data: &MapData, extent: &Rect<f64>) {
    s.push_str("<g id=\"features\" fill=\"none\" stroke-linecap=\"round\" stroke-linejoin=\"round\">\n");
    // Least prominent first, so expressways and railways stay on top.
    let order = [
        FeatureClass::Path,
        FeatureClass::Road,
        FeatureClass::Canal,
        FeatureClass::River,
        FeatureClass::Arterial,
        FeatureClass::Expressway,
        FeatureClass::Railway,
    ];
    let pad = 50.0 / v.scale;
    let visible = Rect::new(
        Coord {
            x: extent.min().x - pad,
            y: extent.min().y - pad,
        },
        Coord {
            x: extent.max().x + pad,
            y: extent.max().y + pad,
        },
    );
    for class in order {
        let mut d = String::new();
        for l in data.lines.iter().filter(|l| l.class == class) {
            for ls in &l.geometry.0 {
                if ls.bounding_rect().is_some_and(|b| intersects(&b, &visible)) {
                    push_path(&mut d, v, ls, false);
                }
            }
        }
        if d.is_empty() {
            continue;
        }
        let (casing, colour, width, dash) = feature_style(class);
        if let Some((c, w)) = casing {
            let _ = writeln!(s, "<path d=\"{d}\" stroke=\"{c}\" stroke-width=\"{w}\"/>");
        }
        let dash = dash.map_or(String::new(), |x| {
            format!(" stroke-dasharray=\"{x}\" stroke-linecap=\"butt\"")
        });
        let _ = writeln!(
            s,
            "<path class=\"feature-{}\" d=\"{d}\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash}/>",
            class.name()
        );
    }
    let mut d = String::new();
    for l in &data.inferred {
        push_path(&mut d, v, l, false);
    }
    if !d.is_empty() {
        let _ = writeln!(
            s,
            "<path class=\"inferred\" d=\"{d}\" stroke=\"#5f6a74\" stroke-width=\"1.4\" stroke-dasharray=\"5 4\" \
             stroke-linecap=\"butt\"/>"
        );
    }
    s.push_str("</g>\n");
}

fn intersects(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x <= b.max().x && b.min().x <= a.max().x && a.min().y <= b.max().y && b.min().y <= a.max().y
}

/// One path per kind: overlapping pieces (uncovered areas of several service types) are painted once, not darker.
fn draw_problems(s: &mut String, v: &View, data: &MapData) {
    s.push_str("<g id=\"problems\">\n");
    for kind in PROBLEM_ORDER {
        let mut d = String::new();
        let mut count = 0;
        for p in data.problems.iter().filter(|p| p.kind == kind) {
            count += 1;
            match &p.geometry {
                Geometry::MultiPolygon(mp) => {
                    for poly in &mp.0 {
                        polygon_path(&mut d, v, poly);
                    }
                }
                Geometry::Polygon(poly) => polygon_path(&mut d, v, poly),
                Geometry::MultiLineString(ml) => {
                    for l in &ml.0 {
                        push_path(&mut d, v, l, false);
                    }
                }
                Geometry::LineString(l) => push_path(&mut d, v, l, false),
                _ => {}
            }
        }
        if d.is_empty() {
            continue;
        }
        let (paint, amount, area) = problem_style(kind);
        let title = format!("{} × {count}", kind.name());
        if area {
            let _ = writeln!(
                s,
                "<path class=\"problem-{}\" d=\"{d}\" fill=\"{paint}\" fill-opacity=\"{amount}\" \
                 stroke=\"{}\" stroke-width=\"0.8\"><title>{title}</title></path>",
                kind.name(),
                if paint.starts_with('#') { paint } else { "#5b6b7a" }
            );
        } else {
            let _ = writeln!(
                s,
                "<path class=\"problem-{}\" d=\"{d}\" fill=\"none\" stroke=\"{paint}\" stroke-width=\"{amount}\" \
                 stroke-opacity=\"0.9\" stroke-linecap=\"round\"><title>{title}</title></path>",
                kind.name()
            );
        }
    }
    s.push_str("</g>\n");
}

/// Problems from the widest (uncovered areas) to the thinnest, so small ones stay visible.
const PROBLEM_ORDER: [ProblemKind; 7] = [
    ProblemKind::Uncovered,
    ProblemKind::SplitBlock,
    ProblemKind::Spill,
    ProblemKind::Gap,
    ProblemKind::Overlap,
    ProblemKind::UnclearBoundary,
    ProblemKind::BarrierCrossing,
];

fn draw_facilities(s: &mut String, v: &View, data: &MapData) {
    let r = data.service_radius_m * v.scale;
    s.push_str(
        "<g id=\"service-radii\" fill-opacity=\"0.045\" stroke-width=\"1.1\" stroke-dasharray=\"6 4\">\n",
    );
    for f in data
        .facilities
        .iter()
        .filter(|f| data.service_types.contains(&f.kind))
    {
        let c = facility_colour(f.kind);
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r:.1}\" fill=\"{c}\" stroke=\"{c}\" stroke-opacity=\"0.7\"/>",
            v.x(f.location.x()),
            v.y(f.location.y())
        );
    }
    s.push_str("</g>\n<g id=\"facilities\">\n");
    for f in data.overlays {
        let c = facility_colour(f.kind);
        let (x, y) = (v.x(f.location.x()), v.y(f.location.y()));
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"{c}\" stroke=\"#ffffff\" \
             stroke-width=\"1\"><title>{}</title></rect>",
            x - 3.5,
            y - 3.5,
            esc(&title_of(f))
        );
    }
    for f in data.facilities {
        let c = facility_colour(f.kind);
        let (x, y) = (v.x(f.location.x()), v.y(f.location.y()));
        let (fill, stroke, width) = match f.status {
            FacilityStatus::Existing => (c, "#ffffff", 1.6),
            FacilityStatus::Planned => ("#ffffff", c, 2.6),
        };
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5.5\" fill=\"{fill}\" stroke=\"{stroke}\" \
             stroke-width=\"{width}\"><title>{}</title></circle>",
            esc(&title_of(f))
        );
    }
    s.push_str("</g>\n");
}

fn title_of(f: &crate::model::Facility) -> String {
    match &f.name {
        Some(n) => format!("{} · {} · {}", f.id, f.kind.name(), n),
        None => format!("{} · {}", f.id, f.kind.name()),
    }
}

fn draw_labels(s: &mut String, v: &View, data: &MapData, lang: Lang) {
    s.push_str(
        "<g id=\"labels\" text-anchor=\"middle\" stroke=\"#ffffff\" stroke-width=\"3.5\" \
         stroke-linejoin=\"round\" paint-order=\"stroke\">\n",
    );
    for u in &data.units {
        let Some(p) = u.geometry.interior_point() else {
            continue;
        };
        let (x, y) = (v.x(p.x()), v.y(p.y()));
        let detail = match u.population {
            Some(pop) => format!(
                "{} {} · {:.2} km²",
                fmt_int(pop),
                Label::People.text(lang),
                u.area_km2
            ),
            None => format!("{:.2} km²", u.area_km2),
        };
        let _ =
            writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"17\" font-weight=\"bold\" fill=\"{}\">{}</text>\n\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#37444f\">{}</text>",
            if u.pass == Some(false) { "#8f1d12" } else { "#1d4d26" },
            esc(&u.id),
            y + 14.0,
            esc(&detail)
        );
    }
    s.push_str("</g>\n");
}

fn draw_north_arrow(s: &mut String, frame: &Rect<f64>, lang: Lang) {
    let (x, y) = (frame.max().x - 34.0, frame.min().y + 18.0);
    let _ = writeln!(
        s,
        "<g id=\"north-arrow\"><circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"20\" fill=\"#ffffff\" fill-opacity=\"0.85\" \
         stroke=\"#9aa3ab\"/><path d=\"M{x:.1} {:.1}L{:.1} {:.1}L{x:.1} {:.1}Z\" fill=\"{ink}\"/>\
         <path d=\"M{x:.1} {:.1}L{:.1} {:.1}L{x:.1} {:.1}Z\" fill=\"#ffffff\" stroke=\"{ink}\" stroke-width=\"1\"/>\
         <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\" \
         fill=\"{ink}\">{}</text></g>",
        y + 22.0,
        y + 8.0,
        x + 7.0,
        y + 32.0,
        y + 27.0,
        y + 8.0,
        x - 7.0,
        y + 32.0,
        y + 27.0,
        y + 4.0,
        Label::North.text(lang),
        ink = colour::INK,
    );
}

/// A round length near a fifth of the frame, drawn as four alternating segments.
fn draw_scale_bar(s: &mut String, frame: &Rect<f64>, scale: f64, lang: Lang) {
    let target = frame.width() / 5.0 / scale;
    let mut length = 10.0;
    for m in [1.0, 2.0, 5.0].iter().cycle().scan(1.0, |k, &m| {
        let v = m * *k;
        if m == 5.0 {
            *k *= 10.0;
        }
        Some(v)
    }) {
        if m > target {
            break;
        }
        length = m;
    }
    let px = length * scale;
    let (x, y) = (frame.min().x + 16.0, frame.max().y - 22.0);
    let _ = write!(
        s,
        "<g id=\"scale-bar\" font-size=\"11\" fill=\"{}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" \
         height=\"30\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>",
        colour::INK,
        x - 8.0,
        y - 18.0,
        px + 64.0
    );
    for i in 0..4 {
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"5\" fill=\"{}\" stroke=\"{}\" \
             stroke-width=\"0.8\"/>",
            x + px * i as f64 / 4.0,
            px / 4.0,
            if i % 2 == 0 { colour::INK } else { "#ffffff" },
            colour::INK
        );
    }
    let label = |m: f64| {
        if length >= 1000.0 {
            format!("{}", m / 1000.0)
        } else {
            format!("{m}")
        }
    };
    for (i, m) in [0.0, length / 2.0, length].into_iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x + px * i as f64 / 2.0,
            y - 4.0,
            label(m)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
        x + px + 8.0,
        y + 5.0,
        if length >= 1000.0 { "km" } else { "m" }
    );
    let _ = lang;
}

/// One legend line: its symbol and its text.
enum Swatch {
    Fill(&'static str, &'static str),
    Pattern,
    Line(&'static str, f64, Option<&'static str>),
    Cased(&'static str, f64, &'static str, f64, Option<&'static str>),
    Town,
    Point(&'static str, bool),
    Square(&'static str),
    Ring,
}

fn legend_entries(data: &MapData, lang: Lang) -> Vec<(Swatch, String)> {
    let mut e = Vec::new();
    if data.units.iter().any(|u| u.pass != Some(false)) {
        e.push((
            Swatch::Fill(colour::PASS, colour::UNIT_EDGE),
            Label::UnitPass.text(lang).into(),
        ));
    }
    if data.units.iter().any(|u| u.pass == Some(false)) {
        e.push((
            Swatch::Fill(colour::FAIL, colour::UNIT_EDGE),
            Label::UnitFail.text(lang).into(),
        ));
    }
    if !data.unassigned.is_empty() {
        e.push((
            Swatch::Fill(colour::UNASSIGNED, "#bbbbbb"),
            Label::Unassigned.text(lang).into(),
        ));
    }
    if data.town.is_some() {
        e.push((Swatch::Town, Label::TownBoundary.text(lang).into()));
    }
    for class in FeatureClass::ALL {
        if data.lines.iter().any(|l| l.class == class) {
            let (casing, c, w, dash) = feature_style(class);
            let sw = match casing {
                Some((cc, cw)) => Swatch::Cased(cc, cw, c, w, dash),
                None => Swatch::Line(c, w, dash),
            };
            e.push((sw, i18n::feature_class(lang, class).into()));
        }
    }
    if !data.inferred.is_empty() {
        e.push((
            Swatch::Line("#5f6a74", 1.4, Some("5 4")),
            Label::Inferred.text(lang).into(),
        ));
    }
    for t in FacilityType::ALL {
        let of_type: Vec<_> = data.facilities.iter().filter(|f| f.kind == t).collect();
        if of_type.iter().any(|f| f.status == FacilityStatus::Existing) {
            e.push((
                Swatch::Point(facility_colour(t), true),
                status_label(lang, t, Label::Existing),
            ));
        }
        if of_type.iter().any(|f| f.status == FacilityStatus::Planned) {
            e.push((
                Swatch::Point(facility_colour(t), false),
                status_label(lang, t, Label::Planned),
            ));
        }
    }
    for t in FacilityType::ALL {
        if data.overlays.iter().any(|f| f.kind == t) {
            e.push((Swatch::Square(facility_colour(t)), i18n::facility(lang, t).into()));
        }
    }
    if data
        .facilities
        .iter()
        .any(|f| data.service_types.contains(&f.kind))
    {
        e.push((
            Swatch::Ring,
            format!(
                "{} {} m",
                Label::ServiceRadius.text(lang),
                fmt_int(data.service_radius_m)
            ),
        ));
    }
    for kind in PROBLEM_ORDER {
        if data.problems.iter().any(|p| p.kind == kind) {
            let (paint, amount, area) = problem_style(kind);
            let sw = if kind == ProblemKind::Uncovered {
                Swatch::Pattern
            } else if area {
                Swatch::Fill(paint, paint)
            } else {
                Swatch::Line(paint, amount.min(4.0), None)
            };
            e.push((sw, i18n::problem(lang, kind).into()));
        }
    }
    e
}

/// "社区卫生服务中心（现状）" / "Community health centre (existing)".
fn status_label(lang: Lang, t: FacilityType, status: Label) -> String {
    match lang {
        Lang::Zh => format!("{}（{}）", i18n::facility(lang, t), status.text(lang)),
        Lang::English => format!("{} ({})", i18n::facility(lang, t), status.text(lang)),
    }
}

fn draw_legend(
    s: &mut String,
    entries: &[(Swatch, String)],
    top: f64,
    columns: usize,
    lang: Lang,
    data: &MapData,
) {
    let _ = writeln!(
        s,
        "<g id=\"legend\" font-size=\"12.5\" fill=\"{}\"><text x=\"{MARGIN}\" y=\"{:.1}\" font-size=\"14\" \
         font-weight=\"bold\">{}</text>",
        colour::INK,
        top + 14.0,
        Label::Legend.text(lang)
    );
    let col_w = (WIDTH - 2.0 * MARGIN) / columns as f64;
    let rows = entries.len().div_ceil(columns);
    for (i, (sw, text)) in entries.iter().enumerate() {
        let (col, row) = (i / rows.max(1), i % rows.max(1));
        let x = MARGIN + col as f64 * col_w;
        let y = top + 34.0 + row as f64 * 22.0;
        let (sx, sy) = (x, y - 12.0);
        match sw {
            Swatch::Fill(fill, stroke) => {
                let _ = write!(
                    s,
                    "<rect x=\"{sx:.1}\" y=\"{sy:.1}\" width=\"26\" height=\"14\" fill=\"{fill}\" \
                     fill-opacity=\"0.85\" stroke=\"{stroke}\" stroke-width=\"1.2\"/>"
                );
            }
            Swatch::Pattern => {
                let _ = write!(
                    s,
                    "<rect x=\"{sx:.1}\" y=\"{sy:.1}\" width=\"26\" height=\"14\" fill=\"url(#bmu-hatch)\" \
                     stroke=\"#5b6b7a\" stroke-width=\"0.8\"/>"
                );
            }
            Swatch::Line(c, w, dash) => {
                let _ = write!(
                    s,
                    "<path d=\"M{sx:.1} {:.1}h26\" stroke=\"{c}\" stroke-width=\"{w}\"{}/>",
                    sy + 7.0,
                    dash.map_or(String::new(), |d| format!(" stroke-dasharray=\"{d}\""))
                );
            }
            Swatch::Cased(cc, cw, c, w, dash) => {
                let _ = write!(
                    s,
                    "<path d=\"M{sx:.1} {y0:.1}h26\" stroke=\"{cc}\" stroke-width=\"{cw}\"/><path \
                     d=\"M{sx:.1} {y0:.1}h26\" stroke=\"{c}\" stroke-width=\"{w}\"{}/>",
                    dash.map_or(String::new(), |d| format!(" stroke-dasharray=\"{d}\"")),
                    y0 = sy + 7.0
                );
            }
            Swatch::Town => {
                let _ = write!(
                    s,
                    "<path d=\"M{sx:.1} {:.1}h26\" stroke=\"{}\" stroke-width=\"2.6\" \
                     stroke-dasharray=\"9 3 2 3\"/>",
                    sy + 7.0,
                    colour::TOWN
                );
            }
            Swatch::Point(c, existing) => {
                let (fill, stroke) = if *existing {
                    (*c, "#ffffff")
                } else {
                    ("#ffffff", *c)
                };
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5.5\" fill=\"{fill}\" stroke=\"{stroke}\" \
                     stroke-width=\"{}\"/>",
                    sx + 13.0,
                    sy + 7.0,
                    if *existing { 1.6 } else { 2.6 }
                );
            }
            Swatch::Square(c) => {
                let _ = write!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"{c}\"/>",
                    sx + 9.0,
                    sy + 3.0
                );
            }
            Swatch::Ring => {
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"7\" fill=\"none\" stroke=\"#555555\" \
                     stroke-dasharray=\"3 2\"/>",
                    sx + 13.0,
                    sy + 7.0
                );
            }
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 34.0,
            y,
            esc(text)
        );
    }
    let note_y = top + 34.0 + rows as f64 * 22.0 + 6.0;
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"{note_y:.1}\" font-size=\"11\" fill=\"#5b6670\">{}</text></g>",
        esc(&format!(
            "{}: {} · {}",
            Label::WorkingCrs.text(lang),
            data.area.working_crs,
            Label::NorthNote.text(lang)
        ))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_bar_lengths_are_round() {
        let mut s = String::new();
        let frame = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 1000.0, y: 800.0 });
        // 0.1 px per metre: a fifth of the frame is 2,000 m.
        draw_scale_bar(&mut s, &frame, 0.1, Lang::Zh);
        assert!(s.contains(">km</text>") && s.contains(">2</text>"), "{s}");
    }
}

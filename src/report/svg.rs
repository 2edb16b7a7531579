//! The map: units coloured by pass/fail with their ids, the town boundary, the linear features by class (inferred
//! lines dashed), facilities with their service radii, and every problem geometry — drawn as SVG in the working CRS,
//! north up, with a scale bar, a north arrow and a legend.
//!
//! One drawing serves the dossier (inline), `--map FILE.svg` and `--map FILE.png` (rendered by resvg), so the three
//! can never disagree. Styling is in presentation attributes rather than CSS so that every SVG renderer (browsers,
//! resvg, QGIS, Inkscape) draws the same map. Coordinates are rounded to 0.1 px and lines simplified below half a
//! pixel: the file stays small and is byte-identical for the same inputs.

use super::i18n::{self, Label, Lang};
use super::labels::{text_width, LabelBox, Placer, OFFSETS};
use super::palette;
use super::{esc, fmt_int, MapData};
use crate::model::{FacilityStatus, FacilityType, FeatureClass};
use crate::validate::ProblemKind;
use geo::{
    BoundingRect, Contains, Coord, Geometry, InteriorPoint, LineString, MultiPolygon, Polygon, Rect, Simplify,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Fonts every label asks for: the common Chinese UI fonts of Windows, macOS and Linux, then any sans-serif.
pub const FONTS: &str = "'Microsoft YaHei', 'PingFang SC', 'Hiragino Sans GB', 'Noto Sans CJK SC', \
                         'Source Han Sans SC', 'WenQuanYi Micro Hei', sans-serif";

/// Width of the drawing in SVG units (pixels at 100 %).
const WIDTH: f64 = 1000.0;
const MARGIN: f64 = 16.0;
/// Tallest map frame, so that map and legend fit one A4 page at the page's width.
const MAX_FRAME_HEIGHT: f64 = 1080.0;
/// Unit edges are the boldest lines on the map: the partition is what the map is about.
const UNIT_EDGE_WIDTH: f64 = 3.4;

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
    pub const FAIL_EDGE: &str = "#c0231a";
    pub const UNASSIGNED: &str = "#e4e4e4";
    pub const UNIT_EDGE: &str = "#2f3b45";
    pub const TOWN: &str = "#1b1b1b";
    pub const PASS_MARK: &str = "#1d4d26";
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

/// What one drawing frames and how: the whole plan with its legend, or one unit at a larger scale.
#[derive(Clone, Copy, PartialEq)]
enum Frame {
    /// The town, every unit, the legend.
    Plan,
    /// One unit (index into [`MapData::units`]) and its surroundings; the others faded, no legend.
    Unit(usize),
}

/// The map, as a complete `<svg>` element. `standalone` adds the XML declaration and a title band.
pub fn map(data: &MapData, lang: Lang, standalone: bool) -> String {
    draw(data, lang, standalone, Frame::Plan)
}

/// The map of one unit (index into [`MapData::units`]) at the largest scale that shows it whole, with its
/// neighbours faded around it: the map of a unit's page.
pub fn unit_map(data: &MapData, unit: usize, lang: Lang) -> String {
    draw(data, lang, false, Frame::Unit(unit))
}

/// The box a unit's map frames: the unit and a margin of a sixth of its size (at least 200 m) around it, so the
/// roads along its edges and the neighbours' names show.
fn unit_extent(g: &MultiPolygon<f64>) -> Option<Rect<f64>> {
    let r = g.bounding_rect()?;
    let pad = (r.width().max(r.height()) / 6.0).max(200.0);
    Some(Rect::new(
        Coord {
            x: r.min().x - pad,
            y: r.min().y - pad,
        },
        Coord {
            x: r.max().x + pad,
            y: r.max().y + pad,
        },
    ))
}

fn draw(data: &MapData, lang: Lang, standalone: bool, framing: Frame) -> String {
    let extent = match framing {
        Frame::Plan => data.extent(),
        Frame::Unit(i) => data.units.get(i).and_then(|u| unit_extent(&u.geometry)),
    };
    let Some(extent) = extent else {
        return empty(lang, standalone);
    };
    let (w, h) = (extent.width().max(1.0), extent.height().max(1.0));
    let frame_w = WIDTH - 2.0 * MARGIN;
    let inner = frame_w - 2.0 * 24.0;
    let max_h = match framing {
        Frame::Plan => MAX_FRAME_HEIGHT,
        // A unit's page holds its tables below the map.
        Frame::Unit(_) => MAX_FRAME_HEIGHT * 0.62,
    };
    let mut scale = inner / w;
    if h * scale > max_h - 48.0 {
        scale = (max_h - 48.0) / h;
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
    let clusters = facility_clusters(&view, data);
    let legend = match framing {
        Frame::Plan => legend_entries(data, lang, clusters.iter().any(|c| c.members.len() > 1)),
        Frame::Unit(_) => Vec::new(),
    };
    let columns = 3usize;
    let rows = legend.len().div_ceil(columns);
    let legend_h = if legend.is_empty() {
        0.0
    } else {
        34.0 + rows as f64 * 22.0 + 30.0
    };
    let total_h = frame.max().y + legend_h + MARGIN;

    let mut s = String::with_capacity(256 * 1024);
    if standalone {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let aria = match framing {
        Frame::Plan => format!("{} — {}", data.area.name, Label::Map.text(lang)),
        Frame::Unit(i) => format!(
            "{} — {} {}",
            data.area.name,
            Label::Unit.text(lang),
            data.units.get(i).map_or("", |u| u.id.as_str())
        ),
    };
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
        esc(&aria),
    );
    // Several maps share one HTML page: ids carry the frame so that each clip path is the map's own.
    let clip = match framing {
        Frame::Plan => "bmu-frame".to_string(),
        Frame::Unit(i) => format!("bmu-frame-{i}"),
    };
    let _ = writeln!(
        s,
        "<defs><clipPath id=\"{clip}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>\
         </clipPath></defs>",
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
    let focus = match framing {
        Frame::Plan => None,
        Frame::Unit(i) => Some(i),
    };
    let _ = writeln!(s, "<g clip-path=\"url(#{clip})\">");
    let fills = palette::unit_fills(&data.units.iter().map(|u| &u.geometry).collect::<Vec<_>>());
    draw_units(&mut s, &view, data, &fills, focus);
    draw_features(&mut s, &view, data, &extent);
    draw_unit_edges(&mut s, &view, data, focus);
    draw_town(&mut s, &view, data);
    draw_problems(&mut s, &view, data, lang);
    let mut placer = Placer::new(LabelBox {
        x0: frame.min().x + 2.0,
        y0: frame.min().y + 2.0,
        x1: frame.max().x - 2.0,
        y1: frame.max().y - 2.0,
    });
    placer.obstacle(north_arrow_box(&frame));
    let bar = draw_scale_bar(&mut String::new(), &frame, scale, lang);
    placer.obstacle(bar);
    for c in &clusters {
        placer.obstacle(c.footprint());
    }
    draw_facilities(&mut s, &view, data, &clusters, lang);
    draw_labels(&mut s, &view, data, lang, &mut placer, focus);
    draw_feature_names(&mut s, &view, data, &mut placer);
    s.push_str("</g>\n");
    draw_north_arrow(&mut s, &frame, lang);
    draw_scale_bar(&mut s, &frame, scale, lang);
    if !legend.is_empty() {
        draw_legend(&mut s, &legend, frame.max().y + 14.0, columns, lang, data);
    }
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

fn draw_units(s: &mut String, v: &View, data: &MapData, fills: &[&str], focus: Option<usize>) {
    s.push_str("<g id=\"units\" stroke=\"none\">\n");
    for b in &data.unassigned {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"{}\" fill-rule=\"evenodd\"/>",
            multipolygon_path(v, b),
            colour::UNASSIGNED
        );
    }
    for (i, u) in data.units.iter().enumerate() {
        let fill = fills.get(i).copied().unwrap_or(palette::PALETTE[0]);
        // On a unit's page its neighbours stay for context, washed out.
        let opacity = match focus {
            Some(f) if f != i => " fill-opacity=\"0.3\"",
            _ => "",
        };
        let _ = writeln!(
            s,
            "<path class=\"unit\" data-unit=\"{id}\" d=\"{}\" fill=\"{fill}\"{opacity} fill-rule=\"evenodd\">\
             <title>{id}</title></path>",
            multipolygon_path(v, &u.geometry),
            id = esc(&u.id)
        );
    }
    s.push_str("</g>\n");
}

/// Bold edges for every unit, and over them a red dashed line along the units that fail: pass/fail is told by
/// the border (and the label's mark), never by the fill, which belongs to the partition.
fn draw_unit_edges(s: &mut String, v: &View, data: &MapData, focus: Option<usize>) {
    let mut d = String::new();
    let mut failing = String::new();
    for u in &data.units {
        let path = multipolygon_path(v, &u.geometry);
        if u.pass == Some(false) {
            failing.push_str(&path);
        }
        d.push_str(&path);
    }
    if !d.is_empty() {
        let _ = writeln!(
            s,
            "<path id=\"unit-edges\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{UNIT_EDGE_WIDTH}\" \
             stroke-linejoin=\"round\"/>",
            colour::UNIT_EDGE
        );
    }
    if !failing.is_empty() {
        let _ = writeln!(
            s,
            "<path class=\"unit-fail-edges\" d=\"{failing}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" \
             stroke-dasharray=\"7 4\" stroke-linejoin=\"round\"/>",
            colour::FAIL_EDGE
        );
    }
    if let Some(u) = focus.and_then(|i| data.units.get(i)) {
        let _ = writeln!(
            s,
            "<path class=\"unit-focus\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"5\" \
             stroke-opacity=\"0.55\" stroke-linejoin=\"round\"/>",
            multipolygon_path(v, &u.geometry),
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
/// Areas outside a service radius are left to the coverage maps ([`coverage_map`]): hatched on the main map they
/// buried the units.
fn draw_problems(s: &mut String, v: &View, data: &MapData, lang: Lang) {
    s.push_str("<g id=\"problems\">\n");
    for kind in PROBLEM_ORDER.into_iter().filter(|k| *k != ProblemKind::Uncovered) {
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
        let title = format!("{} × {count}", i18n::problem(lang, kind));
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

/// Facilities closer than this on the map, in SVG units, are drawn as one symbol with a count.
const CLUSTER_PX: f64 = 13.0;
const SYMBOL_R: f64 = 6.5;

/// Facilities that share one spot on the map.
struct Cluster {
    x: f64,
    y: f64,
    members: Vec<usize>,
}

impl Cluster {
    fn radius(&self) -> f64 {
        if self.members.len() > 1 {
            10.0
        } else {
            SYMBOL_R
        }
    }

    fn footprint(&self) -> LabelBox {
        let r = self.radius() + 1.5;
        LabelBox::centred(self.x, self.y, 2.0 * r, 2.0 * r)
    }
}

/// Groups the facilities in input order: each joins the first cluster whose first member is within
/// [`CLUSTER_PX`], else starts one. Input order makes it deterministic; anchoring on the first member (not a moving
/// mean) keeps every member within the symbol's reach.
fn facility_clusters(v: &View, data: &MapData) -> Vec<Cluster> {
    let mut out: Vec<Cluster> = Vec::new();
    for (i, f) in data.facilities.iter().enumerate() {
        let (x, y) = (v.x(f.location.x()), v.y(f.location.y()));
        match out.iter_mut().find(|c| (c.x - x).hypot(c.y - y) <= CLUSTER_PX) {
            Some(c) => c.members.push(i),
            None => out.push(Cluster {
                x,
                y,
                members: vec![i],
            }),
        }
    }
    out
}

/// The symbol of a proposed facility: a diamond outlined in its type's colour, dashed.
fn proposed_diamond(x: f64, y: f64, c: &str) -> String {
    let r = SYMBOL_R + 2.0;
    format!(
        "<path d=\"M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z\" fill=\"#ffffff\" stroke=\"{c}\" \
         stroke-width=\"1.8\" stroke-dasharray=\"3 2\"/>",
        y - r,
        x + r,
        y + r,
        x - r
    )
}

fn proposed_title(p: &crate::site::ProposedSite, lang: Lang) -> String {
    format!(
        "{} · {} {} ({})",
        i18n::facility(lang, p.kind),
        lang.pick("拟新增，选址", "proposed at site"),
        p.candidate_id,
        p.unit_id
    )
}

/// The one-character mark drawn in a facility's symbol, so types read apart without relying on colour alone.
fn facility_glyph(lang: Lang, f: FacilityType) -> &'static str {
    use FacilityType::*;
    match f {
        Affairs => lang.pick("事", "A"),
        Health => lang.pick("卫", "H"),
        Culture => lang.pick("文", "C"),
        Police => lang.pick("警", "P"),
        UrbanManagement => lang.pick("城", "U"),
        MarketSupervision => lang.pick("市", "M"),
        GridCenter => lang.pick("网", "G"),
        HousingStation => lang.pick("房", "S"),
        ElderlyCare => lang.pick("老", "E"),
        Leisure => lang.pick("休", "L"),
        Transit => lang.pick("轨", "T"),
        Park => lang.pick("园", "K"),
        Commerce => lang.pick("商", "B"),
    }
}

fn draw_facilities(s: &mut String, v: &View, data: &MapData, clusters: &[Cluster], lang: Lang) {
    s.push_str("<g id=\"facilities\">\n");
    for f in data.overlays {
        let c = facility_colour(f.kind);
        let (x, y) = (v.x(f.location.x()), v.y(f.location.y()));
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"{c}\" stroke=\"#ffffff\" \
             stroke-width=\"1\"><title>{}</title></rect>",
            x - 3.5,
            y - 3.5,
            esc(&title_of(f, lang))
        );
    }
    // A proposal is a dashed diamond, so it never reads as a facility that exists or is already planned.
    for p in data.proposed {
        let c = facility_colour(p.kind);
        let (x, y) = (v.x(p.location.x()), v.y(p.location.y()));
        let _ = writeln!(
            s,
            "<g class=\"proposed-site\"><title>{}</title>{}<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"8\" \
             font-weight=\"bold\" text-anchor=\"middle\" fill=\"{c}\">{}</text></g>",
            esc(&proposed_title(p, lang)),
            proposed_diamond(x, y, c),
            y + 2.9,
            facility_glyph(lang, p.kind)
        );
    }
    for c in clusters {
        let members: Vec<&crate::model::Facility> =
            c.members.iter().filter_map(|&i| data.facilities.get(i)).collect();
        let title = members
            .iter()
            .map(|f| title_of(f, lang))
            .collect::<Vec<_>>()
            .join("\n");
        match members.as_slice() {
            [f] => {
                let colour = facility_colour(f.kind);
                let (fill, stroke, ink) = match f.status {
                    FacilityStatus::Existing => (colour, "#ffffff", "#ffffff"),
                    FacilityStatus::Planned => ("#ffffff", colour, colour),
                };
                let _ = writeln!(
                    s,
                    "<g class=\"facility\"><title>{}</title><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{SYMBOL_R}\" \
                     fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.8\"/><text x=\"{:.1}\" y=\"{:.1}\" \
                     font-size=\"8\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"{ink}\">{}</text></g>",
                    esc(&title),
                    c.x,
                    c.y,
                    c.x,
                    c.y + 2.9,
                    facility_glyph(lang, f.kind)
                );
            }
            _ => {
                // A dark disc with the count, ringed by one dot per type present, in the types' colours.
                let mut kinds: Vec<FacilityType> = members.iter().map(|f| f.kind).collect();
                kinds.sort_by_key(|k| k.name());
                kinds.dedup();
                let _ = write!(
                    s,
                    "<g class=\"facility-cluster\" data-count=\"{}\"><title>{}</title><circle cx=\"{:.1}\" \
                     cy=\"{:.1}\" r=\"10\" fill=\"#37444f\" stroke=\"#ffffff\" stroke-width=\"1.6\"/>",
                    members.len(),
                    esc(&title),
                    c.x,
                    c.y
                );
                for (k, kind) in kinds.iter().enumerate() {
                    let a =
                        std::f64::consts::TAU * k as f64 / kinds.len() as f64 - std::f64::consts::FRAC_PI_2;
                    let _ = write!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.6\" fill=\"{}\" stroke=\"#ffffff\" \
                         stroke-width=\"0.6\"/>",
                        c.x + 10.0 * a.cos(),
                        c.y + 10.0 * a.sin(),
                        facility_colour(*kind)
                    );
                }
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" font-weight=\"bold\" text-anchor=\"middle\" \
                     fill=\"#ffffff\">{}</text></g>",
                    c.x,
                    c.y + 3.6,
                    members.len()
                );
            }
        }
    }
    s.push_str("</g>\n");
}

fn title_of(f: &crate::model::Facility, lang: Lang) -> String {
    let kind = i18n::facility(lang, f.kind);
    match &f.name {
        Some(n) => format!("{} · {kind} · {n}", f.id),
        None => format!("{} · {kind}", f.id),
    }
}

/// Where a working-CRS point lies on the map.
fn to_px(v: &View, p: geo::Point<f64>) -> (f64, f64) {
    (v.x(p.x()), v.y(p.y()))
}

/// The working-CRS point under a map position.
fn from_px(v: &View, x: f64, y: f64) -> geo::Point<f64> {
    geo::Point::new(v.x0 + (x - v.ox) / v.scale, v.y1 - (y - v.oy) / v.scale)
}

/// Unit labels, biggest unit first: the id with a ✓/✗ mark, and population and area under it when there is room.
/// Each tries [`OFFSETS`] around the unit's interior point, kept inside the unit; then the id alone; then positions
/// further out joined to the unit by a leader line.
fn draw_labels(
    s: &mut String,
    v: &View,
    data: &MapData,
    lang: Lang,
    placer: &mut Placer,
    focus: Option<usize>,
) {
    s.push_str(
        "<g id=\"labels\" text-anchor=\"middle\" stroke=\"#ffffff\" stroke-width=\"3.5\" \
         stroke-linejoin=\"round\" paint-order=\"stroke\">\n",
    );
    let mut order: Vec<usize> = (0..data.units.len()).collect();
    // The focus unit first on its own page; otherwise by area, ties by input order.
    order.sort_by(|&a, &b| {
        (Some(b) == focus)
            .cmp(&(Some(a) == focus))
            .then(data.units[b].area_km2.total_cmp(&data.units[a].area_km2))
            .then(a.cmp(&b))
    });
    for i in order {
        let u = &data.units[i];
        let Some(p) = u.geometry.interior_point() else {
            continue;
        };
        let (ax, ay) = to_px(v, p);
        let mark = match u.pass {
            Some(true) => "✓ ",
            Some(false) => "✗ ",
            None => "",
        };
        let id = format!("{mark}{}", u.id);
        let detail = match u.population {
            Some(pop) => format!(
                "{} {} · {:.2} km²",
                fmt_int(pop),
                Label::People.text(lang),
                u.area_km2
            ),
            None => format!("{:.2} km²", u.area_km2),
        };
        let id_w = text_width(&id, 17.0) + 4.0;
        let full_w = id_w.max(text_width(&detail, 11.0) + 4.0);
        let inside = |x: f64, y: f64| u.geometry.contains(&from_px(v, x, y));
        let mut chosen = None;
        'sizes: for (w, h, with_detail) in [(full_w, 34.0, true), (id_w, 21.0, false)] {
            for (dx, dy) in OFFSETS {
                let (cx, cy) = (ax + dx * w, ay + dy * h);
                let b = LabelBox::centred(cx, cy, w, h);
                if inside(cx, cy) && placer.try_place(b) {
                    chosen = Some((b, with_detail, false));
                    break 'sizes;
                }
            }
        }
        if chosen.is_none() {
            // Further out, in eight directions, with a leader line back to the unit.
            'ring: for step in [2.0, 3.0, 4.5] {
                for (dx, dy) in OFFSETS.iter().skip(1) {
                    let b = LabelBox::centred(ax + dx * id_w * step, ay + dy * 21.0 * step, id_w, 21.0);
                    if placer.try_place(b) {
                        chosen = Some((b, false, true));
                        break 'ring;
                    }
                }
            }
        }
        let Some((b, with_detail, leader)) = chosen else {
            continue;
        };
        let colour = if u.pass == Some(false) {
            colour::FAIL_EDGE
        } else {
            colour::PASS_MARK
        };
        let cx = (b.x0 + b.x1) / 2.0;
        let _ = write!(
            s,
            "<g class=\"unit-label\" data-unit=\"{}\" data-box=\"{}\">",
            esc(&u.id),
            b.attr()
        );
        if leader {
            let (lx, ly) = (cx.clamp(b.x0, b.x1), if ay < b.y0 { b.y0 } else { b.y1 });
            let _ = write!(
                s,
                "<path d=\"M{ax:.1} {ay:.1}L{lx:.1} {ly:.1}\" stroke=\"{}\" stroke-width=\"0.9\" fill=\"none\"/>\
                 <circle cx=\"{ax:.1}\" cy=\"{ay:.1}\" r=\"2\" fill=\"{}\" stroke=\"none\"/>",
                colour::INK,
                colour::INK
            );
        }
        // The id's baseline sits so that the text fills the box's top 21 px; the detail line the rest. The mark in
        // its own span keeps the id a text node of its own (`>U01</text>`).
        let _ = write!(
            s,
            "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"17\" font-weight=\"bold\" fill=\"{colour}\">\
             <tspan>{mark}</tspan>{}</text>",
            b.y0 + 16.0,
            esc(&u.id)
        );
        if with_detail {
            let _ = write!(
                s,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#37444f\">{}</text>",
                b.y0 + 30.0,
                esc(&detail)
            );
        }
        s.push_str("</g>\n");
    }
    s.push_str("</g>\n");
}

/// A line in SVG units.
type PixelLine = Vec<(f64, f64)>;

/// How prominent a class's names are: expressways first, paths never named.
fn name_rank(c: FeatureClass) -> Option<u8> {
    use FeatureClass::*;
    match c {
        Expressway => Some(0),
        River => Some(1),
        Arterial => Some(2),
        Railway => Some(3),
        Canal => Some(4),
        Road => Some(5),
        Path => None,
    }
}

/// Names along the main named roads and rivers (the layers' name field): one label per name, on the straightest
/// stretch of its longest visible line that is free, turned to run along it and kept upright.
fn draw_feature_names(s: &mut String, v: &View, data: &MapData, placer: &mut Placer) {
    const SIZE: f64 = 11.5;
    // Per name: its best class and its lines in pixels, longest first.
    let mut names: BTreeMap<&str, (u8, Vec<PixelLine>)> = BTreeMap::new();
    for l in &data.lines {
        let (Some(name), Some(rank)) = (l.name.as_deref().map(str::trim), name_rank(l.class)) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let e = names.entry(name).or_insert((rank, Vec::new()));
        e.0 = e.0.min(rank);
        for ls in &l.geometry.0 {
            e.1.push(ls.coords().map(|c| (v.x(c.x), v.y(c.y))).collect());
        }
    }
    let length = |pts: &[(f64, f64)]| -> f64 { pts.windows(2).map(|w| dist(w[0], w[1])).sum() };
    let mut order: Vec<(&str, u8, f64)> = names
        .iter()
        .map(|(n, (r, lines))| (*n, *r, lines.iter().map(|l| length(l)).sum::<f64>()))
        .collect();
    order.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)).then(a.0.cmp(b.0)));
    s.push_str(
        "<g id=\"feature-names\" font-size=\"11.5\" text-anchor=\"middle\" stroke=\"#ffffff\" \
         stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">\n",
    );
    for (name, rank, _) in order {
        let text_w = text_width(name, SIZE) + 6.0;
        let Some((_, lines)) = names.get(name) else {
            continue;
        };
        let mut lines: Vec<&Vec<(f64, f64)>> = lines.iter().collect();
        lines.sort_by(|a, b| length(b).total_cmp(&length(a)));
        let placed = lines.iter().take(6).find_map(|line| {
            let total = length(line);
            if total < text_w * 1.2 {
                return None;
            }
            [0.5, 0.35, 0.65, 0.2, 0.8].into_iter().find_map(|at| {
                let (a, b) = (total * at - text_w / 2.0, total * at + text_w / 2.0);
                if a < 0.0 || b > total {
                    return None;
                }
                let (p, q) = (point_at(line, a), point_at(line, b));
                // Straight enough: the chord is nearly as long as the stretch of line it spans.
                if dist(p, q) < 0.92 * text_w {
                    return None;
                }
                let (cx, cy) = ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0);
                let mut angle = (q.1 - p.1).atan2(q.0 - p.0).to_degrees();
                if angle > 90.0 {
                    angle -= 180.0;
                } else if angle < -90.0 {
                    angle += 180.0;
                }
                let (sin, cos) = angle.to_radians().sin_cos();
                let h = SIZE + 3.0;
                let bw = text_w * cos.abs() + h * sin.abs();
                let bh = text_w * sin.abs() + h * cos.abs();
                let b = LabelBox::centred(cx, cy, bw, bh);
                placer.try_place(b).then_some((b, cx, cy, angle))
            })
        });
        let Some((b, cx, cy, angle)) = placed else {
            continue;
        };
        let fill = if matches!(rank, 1 | 4) {
            "#1f5f99"
        } else {
            "#3b3b3b"
        };
        let _ = writeln!(
            s,
            "<text class=\"feature-name\" data-box=\"{}\" x=\"{cx:.1}\" y=\"{:.1}\" fill=\"{fill}\" \
             transform=\"rotate({angle:.1} {cx:.1} {cy:.1})\">{}</text>",
            b.attr(),
            cy + SIZE * 0.36,
            esc(name)
        );
    }
    s.push_str("</g>\n");
}

fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// The point `at` pixels along a polyline.
fn point_at(line: &[(f64, f64)], at: f64) -> (f64, f64) {
    let mut left = at;
    for w in line.windows(2) {
        let d = dist(w[0], w[1]);
        if left <= d && d > 0.0 {
            let t = left / d;
            return (w[0].0 + (w[1].0 - w[0].0) * t, w[0].1 + (w[1].1 - w[0].1) * t);
        }
        left -= d;
    }
    line.last().copied().unwrap_or((0.0, 0.0))
}

/// The room the north arrow takes, kept free of labels.
fn north_arrow_box(frame: &Rect<f64>) -> LabelBox {
    LabelBox::centred(frame.max().x - 34.0, frame.min().y + 40.0, 44.0, 44.0)
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
fn draw_scale_bar(s: &mut String, frame: &Rect<f64>, scale: f64, lang: Lang) -> LabelBox {
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
    LabelBox {
        x0: x - 8.0,
        y0: y - 18.0,
        x1: x - 8.0 + px + 64.0,
        y1: y + 12.0,
    }
}

/// One legend line: its symbol and its text.
enum Swatch {
    Fill(&'static str, &'static str),
    /// Three palette colours side by side: one colour per unit.
    Mosaic,
    Line(&'static str, f64, Option<&'static str>),
    Cased(&'static str, f64, &'static str, f64, Option<&'static str>),
    Town,
    Point(&'static str, bool, &'static str),
    Proposed,
    Cluster,
    Square(&'static str),
    Mark(&'static str, &'static str),
}

fn legend_entries(data: &MapData, lang: Lang, clustered: bool) -> Vec<(Swatch, String)> {
    let mut e = Vec::new();
    if !data.units.is_empty() {
        e.push((
            Swatch::Mosaic,
            lang.pick(
                "单元（一单元一色，相邻单元不同色）",
                "Unit (one colour each, neighbours differ)",
            )
            .into(),
        ));
        e.push((
            Swatch::Line(colour::UNIT_EDGE, UNIT_EDGE_WIDTH, None),
            lang.pick("单元边界", "Unit boundary").into(),
        ));
    }
    if data.units.iter().any(|u| u.pass == Some(true)) {
        e.push((
            Swatch::Mark("✓", colour::PASS_MARK),
            Label::UnitPass.text(lang).into(),
        ));
    }
    if data.units.iter().any(|u| u.pass == Some(false)) {
        e.push((
            Swatch::Line(colour::FAIL_EDGE, 1.8, Some("7 4")),
            format!("✗ {}", Label::UnitFail.text(lang)),
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
                Swatch::Point(facility_colour(t), true, facility_glyph(lang, t)),
                status_label(lang, t, Label::Existing),
            ));
        }
        if of_type.iter().any(|f| f.status == FacilityStatus::Planned) {
            e.push((
                Swatch::Point(facility_colour(t), false, facility_glyph(lang, t)),
                status_label(lang, t, Label::Planned),
            ));
        }
    }
    if !data.proposed.is_empty() {
        e.push((
            Swatch::Proposed,
            lang.pick("拟新增设施（选址建议）", "Proposed facility (siting)")
                .into(),
        ));
    }
    if clustered {
        e.push((
            Swatch::Cluster,
            lang.pick(
                "同处多个设施（数字为个数，圆点为类型）",
                "Facilities at one spot (count; dots: types)",
            )
            .into(),
        ));
    }
    for t in FacilityType::ALL {
        if data.overlays.iter().any(|f| f.kind == t) {
            e.push((Swatch::Square(facility_colour(t)), i18n::facility(lang, t).into()));
        }
    }
    for kind in PROBLEM_ORDER.into_iter().filter(|k| *k != ProblemKind::Uncovered) {
        if data.problems.iter().any(|p| p.kind == kind) {
            let (paint, amount, area) = problem_style(kind);
            let sw = if area {
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
            Swatch::Mosaic => {
                for (k, c) in palette::PALETTE.iter().take(3).enumerate() {
                    let _ = write!(
                        s,
                        "<rect x=\"{:.1}\" y=\"{sy:.1}\" width=\"9\" height=\"14\" fill=\"{c}\"/>",
                        sx + 9.0 * k as f64
                    );
                }
            }
            Swatch::Mark(mark, c) => {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"15\" font-weight=\"bold\" text-anchor=\"middle\" \
                     fill=\"{c}\">{mark}</text>",
                    sx + 13.0,
                    sy + 12.0
                );
            }
            Swatch::Cluster => {
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"8\" fill=\"#37444f\"/><text x=\"{:.1}\" y=\"{:.1}\" \
                     font-size=\"9\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#ffffff\">3</text>",
                    sx + 13.0,
                    sy + 7.0,
                    sx + 13.0,
                    sy + 10.2
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
            Swatch::Point(c, existing, glyph) => {
                let (fill, stroke, ink) = if *existing {
                    (*c, "#ffffff", "#ffffff")
                } else {
                    ("#ffffff", *c, *c)
                };
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{SYMBOL_R}\" fill=\"{fill}\" stroke=\"{stroke}\" \
                     stroke-width=\"1.8\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"8\" font-weight=\"bold\" \
                     text-anchor=\"middle\" fill=\"{ink}\">{glyph}</text>",
                    sx + 13.0,
                    sy + 7.0,
                    sx + 13.0,
                    sy + 9.9
                );
            }
            Swatch::Proposed => s.push_str(&proposed_diamond(sx + 13.0, sy + 7.0, "#37444f")),
            Swatch::Square(c) => {
                let _ = write!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"{c}\"/>",
                    sx + 9.0,
                    sy + 3.0
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

/// Width of a coverage map in SVG units: two sit side by side on a page.
const SMALL_WIDTH: f64 = 480.0;
/// Margin of a small map, SVG units.
const SMALL_PAD: f64 = 8.0;
/// Height of a small map's title line, SVG units.
const SMALL_TITLE_H: f64 = 26.0;

/// The view of a small map (coverage, candidates): the study area fitted under a title line, and the map's height.
fn small_view(data: &MapData) -> Option<(View, f64)> {
    let extent = data.extent()?;
    let (w, h) = (extent.width().max(1.0), extent.height().max(1.0));
    let (pad, title_h) = (SMALL_PAD, SMALL_TITLE_H);
    let scale = ((SMALL_WIDTH - 2.0 * pad) / w).min(420.0 / h);
    let view = View {
        x0: extent.min().x,
        y1: extent.max().y,
        scale,
        ox: (SMALL_WIDTH - w * scale) / 2.0,
        oy: title_h + pad,
    };
    Some((view, title_h + h * scale + 2.0 * pad))
}

/// One small map for one service type: the units (outlined, lightly filled), that type's facilities with their
/// service radius, and the parts of units outside every radius hatched. One per type replaces the radii and hatching
/// that, all on the main map at once, buried the partition.
pub fn coverage_map(data: &MapData, kind: FacilityType, lang: Lang) -> String {
    let mut s = String::new();
    let Some((v, total_h)) = small_view(data) else {
        return s;
    };
    let (pad, scale) = (SMALL_PAD, v.scale);
    let c = facility_colour(kind);
    let id = format!("bmu-hatch-{}", kind.name());
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"coverage-map\" data-service=\"{}\" \
         viewBox=\"0 0 {SMALL_WIDTH} {total_h:.0}\" font-family=\"{FONTS}\" role=\"img\" aria-label=\"{}\">\
         <defs><pattern id=\"{id}\" patternUnits=\"userSpaceOnUse\" width=\"6\" height=\"6\" \
         patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"{}\" \
         stroke-width=\"1.6\"/></pattern></defs><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>",
        kind.name(),
        esc(i18n::facility(lang, kind)),
        colour::FAIL_EDGE
    );
    let _ = writeln!(
        s,
        "<text x=\"{pad}\" y=\"18\" font-size=\"14\" font-weight=\"bold\" fill=\"{}\">{} · {} {} m</text>",
        colour::INK,
        esc(i18n::facility(lang, kind)),
        Label::ServiceRadius.text(lang),
        fmt_int(data.service_radius_m)
    );
    let fills = palette::unit_fills(&data.units.iter().map(|u| &u.geometry).collect::<Vec<_>>());
    for (u, fill) in data.units.iter().zip(fills) {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"{fill}\" fill-opacity=\"0.45\" stroke=\"{}\" stroke-width=\"1.4\"/>",
            multipolygon_path(&v, &u.geometry),
            colour::UNIT_EDGE
        );
    }
    if let Some(t) = &data.town {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.4\" stroke-dasharray=\"8 3 2 3\"/>",
            multipolygon_path(&v, t),
            colour::TOWN
        );
    }
    let mut d = String::new();
    for p in data.problems.iter().filter(|p| {
        p.kind == ProblemKind::Uncovered && p.detail.get("service").map(String::as_str) == Some(kind.name())
    }) {
        match &p.geometry {
            Geometry::MultiPolygon(mp) => mp.0.iter().for_each(|poly| polygon_path(&mut d, &v, poly)),
            Geometry::Polygon(poly) => polygon_path(&mut d, &v, poly),
            _ => {}
        }
    }
    if !d.is_empty() {
        let _ = writeln!(
            s,
            "<path class=\"uncovered\" d=\"{d}\" fill=\"url(#{id})\" stroke=\"{}\" stroke-width=\"0.8\"/>",
            colour::FAIL_EDGE
        );
    }
    let r = data.service_radius_m * scale;
    for f in data.facilities.iter().filter(|f| f.kind == kind) {
        let (x, y) = to_px(&v, f.location);
        let planned = f.status == FacilityStatus::Planned;
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" fill=\"{c}\" fill-opacity=\"0.1\" stroke=\"{c}\" \
             stroke-width=\"1\" stroke-dasharray=\"4 3\"/><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{}\" \
             stroke=\"{}\" stroke-width=\"1.5\"><title>{}</title></circle>",
            if planned { "#ffffff" } else { c },
            if planned { c } else { "#ffffff" },
            esc(&title_of(f, lang))
        );
    }
    for p in data.proposed.iter().filter(|p| p.kind == kind) {
        let (x, y) = to_px(&v, p.location);
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" fill=\"{c}\" fill-opacity=\"0.1\" stroke=\"{c}\" \
             stroke-width=\"1\" stroke-dasharray=\"4 3\"/><g class=\"proposed-site\"><title>{}</title>{}</g>",
            esc(&proposed_title(p, lang)),
            proposed_diamond(x, y, c)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A small map of one candidate partition, for side-by-side comparison: units in their palette colours with their
/// (stable) ids, placed without overlap.
pub fn candidate_map(data: &MapData, title: &str) -> String {
    let mut s = String::new();
    let Some((v, total_h)) = small_view(data) else {
        return s;
    };
    let (pad, title_h) = (SMALL_PAD, SMALL_TITLE_H);
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"candidate-map\" viewBox=\"0 0 {SMALL_WIDTH} \
         {total_h:.0}\" font-family=\"{FONTS}\" role=\"img\" aria-label=\"{t}\"><rect width=\"100%\" \
         height=\"100%\" fill=\"#ffffff\"/><text x=\"{pad}\" y=\"18\" font-size=\"14\" font-weight=\"bold\" \
         fill=\"{}\">{t}</text>",
        colour::INK,
        t = esc(title)
    );
    let fills = palette::unit_fills(&data.units.iter().map(|u| &u.geometry).collect::<Vec<_>>());
    for (u, fill) in data.units.iter().zip(&fills) {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"{fill}\" stroke=\"{}\" stroke-width=\"1.8\"><title>{}</title></path>",
            multipolygon_path(&v, &u.geometry),
            colour::UNIT_EDGE,
            esc(&u.id)
        );
    }
    for b in &data.unassigned {
        let _ = writeln!(
            s,
            "<path d=\"{}\" fill=\"{}\"/>",
            multipolygon_path(&v, b),
            colour::UNASSIGNED
        );
    }
    let mut placer = Placer::new(LabelBox {
        x0: 0.0,
        y0: title_h,
        x1: SMALL_WIDTH,
        y1: total_h,
    });
    s.push_str(
        "<g text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\" stroke=\"#ffffff\" stroke-width=\"3\" \
         paint-order=\"stroke\">",
    );
    for u in &data.units {
        let Some(p) = u.geometry.interior_point() else {
            continue;
        };
        let (ax, ay) = to_px(&v, p);
        let (bw, bh) = (text_width(&u.id, 13.0) + 4.0, 16.0);
        let spot = OFFSETS.iter().find_map(|(dx, dy)| {
            let b = LabelBox::centred(ax + dx * bw, ay + dy * bh, bw, bh);
            placer.try_place(b).then_some(b)
        });
        if let Some(b) = spot {
            let _ = write!(
                s,
                "<text data-box=\"{}\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{}\">{}</text>",
                b.attr(),
                (b.x0 + b.x1) / 2.0,
                b.y1 - 3.0,
                if u.pass == Some(false) {
                    colour::FAIL_EDGE
                } else {
                    colour::INK
                },
                esc(&u.id)
            );
        }
    }
    s.push_str("</g></svg>\n");
    s
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

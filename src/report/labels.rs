//! Label placement without overlap: unit labels, feature names along roads and rivers, on one map.
//!
//! A greedy placer in the manner of Imhof's rules as cartographic software applies them (Christensen, Marks &
//! Shieber 1995 call it "greedy with candidate positions"): labels go in priority order (big units first, then
//! the most prominent named features), each tries a short list of candidate positions and takes the first whose
//! box stays in the frame and clears every box already placed and every obstacle (north arrow, scale bar, facility
//! symbols). A label with no free position is dropped (its unit keeps its `<title>` tooltip and its row in the
//! tables). Boxes are axis-aligned in SVG pixels; a rotated feature name is held by the box around it, which is
//! conservative, never optimistic. Every placed box is written into the SVG (`data-box`) so a test can check that no
//! two intersect.

/// An axis-aligned box in SVG units, y down.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelBox {
    /// Left.
    pub x0: f64,
    /// Top.
    pub y0: f64,
    /// Right.
    pub x1: f64,
    /// Bottom.
    pub y1: f64,
}

impl LabelBox {
    /// The box of width `w` and height `h` centred on (`cx`, `cy`).
    pub fn centred(cx: f64, cy: f64, w: f64, h: f64) -> Self {
        LabelBox {
            x0: cx - w / 2.0,
            y0: cy - h / 2.0,
            x1: cx + w / 2.0,
            y1: cy + h / 2.0,
        }
    }

    /// Whether the two boxes share interior (touching edges do not count).
    pub fn intersects(&self, o: &LabelBox) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    fn within(&self, o: &LabelBox) -> bool {
        self.x0 >= o.x0 && self.x1 <= o.x1 && self.y0 >= o.y0 && self.y1 <= o.y1
    }

    /// `x0 y0 x1 y1`, as written in `data-box`.
    pub fn attr(&self) -> String {
        format!("{:.1} {:.1} {:.1} {:.1}", self.x0, self.y0, self.x1, self.y1)
    }

    /// Parses what [`LabelBox::attr`] wrote.
    pub fn parse(s: &str) -> Option<Self> {
        let v: Vec<f64> = s
            .split_whitespace()
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        match v.as_slice() {
            [x0, y0, x1, y1] => Some(LabelBox {
                x0: *x0,
                y0: *y0,
                x1: *x1,
                y1: *y1,
            }),
            _ => None,
        }
    }
}

/// Placed labels and obstacles of one map.
pub struct Placer {
    bounds: LabelBox,
    obstacles: Vec<LabelBox>,
    placed: Vec<LabelBox>,
}

impl Placer {
    /// A placer for labels inside `bounds`.
    pub fn new(bounds: LabelBox) -> Self {
        Placer {
            bounds,
            obstacles: Vec::new(),
            placed: Vec::new(),
        }
    }

    /// Something labels must not cover, but that is not a label itself.
    pub fn obstacle(&mut self, b: LabelBox) {
        self.obstacles.push(b);
    }

    /// Whether `b` is free: inside the bounds, clear of every label and obstacle.
    pub fn fits(&self, b: &LabelBox) -> bool {
        b.within(&self.bounds) && !self.placed.iter().chain(&self.obstacles).any(|o| o.intersects(b))
    }

    /// Places `b` when it fits.
    pub fn try_place(&mut self, b: LabelBox) -> bool {
        let ok = self.fits(&b);
        if ok {
            self.placed.push(b);
        }
        ok
    }
}

/// Candidate centre offsets, in label widths and heights: on the anchor, then above, below, beside, diagonal.
pub const OFFSETS: [(f64, f64); 9] = [
    (0.0, 0.0),
    (0.0, -1.0),
    (0.0, 1.0),
    (-0.6, 0.0),
    (0.6, 0.0),
    (-0.6, -1.0),
    (0.6, -1.0),
    (-0.6, 1.0),
    (0.6, 1.0),
];

/// The width of `text` at `size` px, estimated: CJK and full-width characters are one em, Latin letters and
/// digits a bit over half. Over-estimating is safe (a label takes a little more room than it needs).
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            ' ' => 0.3,
            c if c.is_ascii() => 0.62,
            '²' | '·' => 0.62,
            _ => 1.0,
        })
        .sum::<f64>()
        * size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_that_would_overlap_takes_another_position_or_none() {
        let mut p = Placer::new(LabelBox::centred(50.0, 50.0, 100.0, 100.0));
        assert!(p.try_place(LabelBox::centred(50.0, 50.0, 20.0, 10.0)));
        assert!(!p.try_place(LabelBox::centred(55.0, 52.0, 20.0, 10.0)));
        assert!(
            p.try_place(LabelBox::centred(50.0, 60.0, 20.0, 10.0)),
            "touching is fine"
        );
        assert!(
            !p.try_place(LabelBox::centred(99.0, 50.0, 20.0, 10.0)),
            "outside the frame"
        );
        p.obstacle(LabelBox::centred(20.0, 20.0, 10.0, 10.0));
        assert!(!p.try_place(LabelBox::centred(22.0, 22.0, 4.0, 4.0)));
    }

    #[test]
    fn boxes_round_trip_through_the_attribute() {
        let b = LabelBox::centred(10.0, 20.0, 4.0, 2.0);
        assert_eq!(LabelBox::parse(&b.attr()), Some(b));
        assert_eq!(LabelBox::parse("1 2 3"), None);
    }

    #[test]
    fn chinese_text_is_wider_than_digits() {
        assert!(text_width("曹安公路", 10.0) > text_width("1234", 10.0));
    }
}

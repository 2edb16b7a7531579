//! GCJ-02 and BD-09, the obfuscated WGS84 variants of Chinese web maps (Amap/Tencent and Baidu).
//!
//! The forward formulas (WGS84 → GCJ-02 → BD-09) are the published ones used by every open implementation; the
//! inverse GCJ-02 → WGS84 has no closed form and is solved by fixed-point iteration to 1e-10° (≈ 0.01 mm).

use geo::Coord;
use std::f64::consts::PI;

/// Krasovsky 1940 semi-major axis and eccentricity², as the GCJ-02 algorithm uses them.
const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;
/// Baidu's rotation constant.
const X_PI: f64 = PI * 3000.0 / 180.0;

/// A Chinese web-map coordinate system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebMap {
    Gcj02,
    Bd09,
}

impl WebMap {
    /// Converts a coordinate of this system to WGS84 lon/lat.
    pub fn to_wgs84(self, c: Coord<f64>) -> Coord<f64> {
        match self {
            WebMap::Gcj02 => gcj02_to_wgs84(c),
            WebMap::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(c)),
        }
    }

    /// Converts WGS84 lon/lat to this system.
    // The pair `to_wgs84`/`from_wgs84` on a Copy enum reads as the conversion it is; a constructor name would not.
    #[allow(clippy::wrong_self_convention)]
    pub fn from_wgs84(self, c: Coord<f64>) -> Coord<f64> {
        match self {
            WebMap::Gcj02 => wgs84_to_gcj02(c),
            WebMap::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(c)),
        }
    }
}

fn offset_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn offset_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// Whether the GCJ-02 offset applies (it is only defined inside China's rough bounding box).
fn in_china(c: Coord<f64>) -> bool {
    (72.004..=137.8347).contains(&c.x) && (0.8293..=55.8271).contains(&c.y)
}

/// WGS84 → GCJ-02.
pub fn wgs84_to_gcj02(c: Coord<f64>) -> Coord<f64> {
    if !in_china(c) {
        return c;
    }
    let d_lat = offset_lat(c.x - 105.0, c.y - 35.0);
    let d_lon = offset_lon(c.x - 105.0, c.y - 35.0);
    let rad_lat = c.y.to_radians();
    let magic = 1.0 - EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let d_lat = (d_lat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (A / sqrt_magic * rad_lat.cos() * PI);
    Coord {
        x: c.x + d_lon,
        y: c.y + d_lat,
    }
}

/// GCJ-02 → WGS84 by fixed-point iteration on the forward formula.
pub fn gcj02_to_wgs84(g: Coord<f64>) -> Coord<f64> {
    if !in_china(g) {
        return g;
    }
    let mut w = g;
    for _ in 0..30 {
        let f = wgs84_to_gcj02(w);
        let (dx, dy) = (f.x - g.x, f.y - g.y);
        w = Coord {
            x: w.x - dx,
            y: w.y - dy,
        };
        if dx.abs() < 1e-10 && dy.abs() < 1e-10 {
            break;
        }
    }
    w
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(c: Coord<f64>) -> Coord<f64> {
    let z = (c.x * c.x + c.y * c.y).sqrt() + 0.00002 * (c.y * X_PI).sin();
    let theta = c.y.atan2(c.x) + 0.000003 * (c.x * X_PI).cos();
    Coord {
        x: z * theta.cos() + 0.0065,
        y: z * theta.sin() + 0.006,
    }
}

/// BD-09 → GCJ-02 (iterated on the forward formula, so the round trip is exact to 1e-10°).
pub fn bd09_to_gcj02(b: Coord<f64>) -> Coord<f64> {
    let x = b.x - 0.0065;
    let y = b.y - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    let mut g = Coord {
        x: z * theta.cos(),
        y: z * theta.sin(),
    };
    for _ in 0..10 {
        let f = gcj02_to_bd09(g);
        let (dx, dy) = (f.x - b.x, f.y - b.y);
        g = Coord {
            x: g.x - dx,
            y: g.y - dy,
        };
        if dx.abs() < 1e-10 && dy.abs() < 1e-10 {
            break;
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metres between two lon/lat points near Shanghai/Beijing (equirectangular; fine at these distances).
    fn metres(a: Coord<f64>, b: Coord<f64>) -> f64 {
        let r = 6_371_008.8;
        let dx = (a.x - b.x).to_radians() * r * a.y.to_radians().cos();
        let dy = (a.y - b.y).to_radians() * r;
        dx.hypot(dy)
    }

    // Known pairs published with the widely used open implementations of these formulas (wandergis/coordtransform
    // README: input 116.404, 39.915 in each direction).
    const INPUT: Coord<f64> = Coord {
        x: 116.404,
        y: 39.915,
    };

    #[test]
    fn wgs84_to_gcj02_known_pair() {
        let g = wgs84_to_gcj02(INPUT);
        assert!(
            metres(
                g,
                Coord {
                    x: 116.41024449916938,
                    y: 39.91640428150164
                }
            ) < 1.0
        );
    }

    #[test]
    fn gcj02_to_bd09_known_pair() {
        let b = gcj02_to_bd09(INPUT);
        assert!(
            metres(
                b,
                Coord {
                    x: 116.41036949371029,
                    y: 39.92133699351022
                }
            ) < 1.0
        );
    }

    #[test]
    fn bd09_to_gcj02_known_pair() {
        let g = bd09_to_gcj02(INPUT);
        assert!(
            metres(
                g,
                Coord {
                    x: 116.39762729119315,
                    y: 39.90865673957631
                }
            ) < 1.0
        );
    }

    #[test]
    fn gcj02_to_wgs84_known_pair_and_exact_round_trip() {
        // The published one-step inverse is itself approximate (~1 m); the iterative inverse must be within 1 m of it
        // and round-trip exactly.
        let w = gcj02_to_wgs84(INPUT);
        assert!(
            metres(
                w,
                Coord {
                    x: 116.39775550083061,
                    y: 39.91359571849836
                }
            ) < 1.0
        );
        assert!(metres(wgs84_to_gcj02(w), INPUT) < 1e-3);
        let shanghai = Coord { x: 121.3, y: 31.25 };
        assert!(metres(WebMap::Bd09.to_wgs84(WebMap::Bd09.from_wgs84(shanghai)), shanghai) < 1e-3);
    }

    #[test]
    fn outside_china_is_unchanged() {
        let tokyo = Coord { x: 139.7, y: 35.7 };
        let london = Coord { x: -0.12, y: 51.5 };
        assert_eq!(wgs84_to_gcj02(london), london);
        assert_eq!(gcj02_to_wgs84(tokyo), tokyo);
        assert!(metres(wgs84_to_gcj02(INPUT), INPUT) > 100.0);
    }
}

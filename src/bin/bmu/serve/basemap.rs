//! `--basemap`: an optional raster basemap under the plan. An XYZ template or a remote PMTiles archive is fetched by
//! the browser from where the user said; a local `.pmtiles` file is served by bmu itself (`GET /basemap.pmtiles`,
//! with the byte ranges PMTiles readers ask for), so nothing leaves the machine. Without the flag the page is the
//! same as ever and fetches nothing.

use super::{error, App};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// A basemap the page can draw.
#[derive(Clone, Debug)]
pub(super) enum Basemap {
    /// `http(s)://…/{z}/{x}/{y}…` raster tiles.
    Xyz(String),
    /// A PMTiles archive at an http(s) URL (given as `pmtiles://https://…`).
    Remote(String),
    /// A local PMTiles archive of raster tiles.
    Local(PathBuf),
}

/// The flag's value checked: one line naming the problem otherwise (the caller prefixes `--basemap`).
pub(super) fn parse(value: &str) -> Result<Basemap, String> {
    let web = |u: &str| u.starts_with("http://") || u.starts_with("https://");
    if let Some(rest) = value.strip_prefix("pmtiles://") {
        return if web(rest) && host(rest).is_some_and(|h| !h.is_empty()) {
            Ok(Basemap::Remote(rest.to_string()))
        } else {
            Err(format!(
                "{value}: a pmtiles:// URL names an http(s) archive, as pmtiles://https://host/file.pmtiles"
            ))
        };
    }
    if web(value) {
        let missing: Vec<&str> = ["{z}", "{x}", "{y}"]
            .into_iter()
            .filter(|p| !value.contains(p))
            .collect();
        return match host(value) {
            _ if !missing.is_empty() => Err(format!(
                "{value}: an XYZ template needs {{z}}, {{x}} and {{y}} (missing {})",
                missing.join(", ")
            )),
            Some(h) if !h.is_empty() => Ok(Basemap::Xyz(value.to_string())),
            _ => Err(format!("{value}: no host in the URL")),
        };
    }
    let path = PathBuf::from(value);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pmtiles"))
    {
        return raster_archive(&path).map(|()| Basemap::Local(path));
    }
    Err(format!(
        "{value}: not an XYZ template (http(s)://…/{{z}}/{{x}}/{{y}}…), a pmtiles:// URL or a local .pmtiles file"
    ))
}

/// The host of an http(s) URL.
fn host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or_default())
}

/// A local archive must be PMTiles version 3 with raster tiles: a vector archive needs a style and glyphs the page
/// does not have.
fn raster_archive(path: &std::path::Path) -> Result<(), String> {
    let mut head = [0u8; 127];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if &head[..7] != b"PMTiles" || head[7] != 3 {
        return Err(format!("{}: not a PMTiles version 3 archive", path.display()));
    }
    // Header byte 99 is the tile type: 1 MVT, 2 PNG, 3 JPEG, 4 WebP, 5 AVIF.
    match head[99] {
        2..=5 => Ok(()),
        1 => Err(format!(
            "{}: a vector-tile archive; the page draws raster basemaps (PNG, JPEG, WebP, AVIF) only",
            path.display()
        )),
        t => Err(format!("{}: unknown tile type {t}", path.display())),
    }
}

/// What the page needs to draw the basemap (in `/api/plan`): null without one.
pub(super) fn describe(basemap: Option<&Basemap>) -> Value {
    match basemap {
        None => Value::Null,
        Some(Basemap::Xyz(u)) => json!({"kind": "xyz", "url": u, "attribution": host(u)}),
        Some(Basemap::Remote(u)) => json!({"kind": "pmtiles", "url": u, "attribution": host(u)}),
        Some(Basemap::Local(p)) => json!({
            "kind": "pmtiles",
            "url": "/basemap.pmtiles",
            "attribution": p.file_name().map(|n| n.to_string_lossy().into_owned()),
        }),
    }
}

/// `GET /basemap.pmtiles`: the local archive, whole or one byte range (PMTiles readers ask for one at a time).
/// Written by hand rather than through tower-http's `ServeFile`: a single `bytes=a-b` range over one known file is
/// all a PMTiles reader needs, and the crate would bring its file-serving stack for that.
pub(super) async fn get_archive(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(Basemap::Local(path)) = app.basemap.clone() else {
        return error(StatusCode::NOT_FOUND, "no local basemap");
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|r| r.to_str().ok())
        .map(str::to_string);
    let read = tokio::task::spawn_blocking(move || read_span(&path, range.as_deref())).await;
    let Slice { len, span, bytes } = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((start, end)) = span {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    r
}

/// Bytes of the archive: the file's length, the range sent (None: the whole file) and its bytes.
struct Slice {
    len: u64,
    span: Option<(u64, u64)>,
    bytes: Vec<u8>,
}

fn read_span(path: &std::path::Path, range: Option<&str>) -> std::io::Result<Slice> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let span = range.and_then(|r| span(r, len));
    let (start, end) = span.unwrap_or((0, len.saturating_sub(1)));
    let mut bytes = vec![0; if len == 0 { 0 } else { (end - start + 1) as usize }];
    f.seek(SeekFrom::Start(start))?;
    f.read_exact(&mut bytes)?;
    Ok(Slice { len, span, bytes })
}

/// The bytes a `Range: bytes=a-b` (or `a-`, or `-n`) header asks for within `len`, inclusive; None when it is not one
/// satisfiable range (the whole file is sent then).
fn span(range: &str, len: u64) -> Option<(u64, u64)> {
    let (a, b) = range.trim().strip_prefix("bytes=")?.split_once('-')?;
    let last = len.checked_sub(1)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => (len.saturating_sub(n.parse().ok()?), last),
        (a, "") => (a.parse().ok()?, last),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(last)),
    };
    (start <= end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basemap_values_that_are_neither_xyz_pmtiles_nor_a_file_are_refused() {
        assert!(matches!(
            parse("https://tile.example.org/{z}/{x}/{y}.png"),
            Ok(Basemap::Xyz(_))
        ));
        assert!(matches!(
            parse("pmtiles://https://example.org/a.pmtiles"),
            Ok(Basemap::Remote(_))
        ));
        for bad in [
            "https://tile.example.org/tiles.png",
            "ftp://tile.example.org/{z}/{x}/{y}.png",
            "pmtiles://file.pmtiles",
            "http:///{z}/{x}/{y}.png",
            "/no/such/file.pmtiles",
            "tiles",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn byte_ranges_are_read_as_pmtiles_readers_send_them() {
        assert_eq!(span("bytes=0-16383", 100), Some((0, 99)));
        assert_eq!(span("bytes=10-19", 100), Some((10, 19)));
        assert_eq!(span("bytes=90-", 100), Some((90, 99)));
        assert_eq!(span("bytes=-5", 100), Some((95, 99)));
        assert_eq!(span("bytes=200-300", 100), None);
        assert_eq!(span("items=0-1", 100), None);
    }
}

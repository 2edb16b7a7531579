//! The map as PNG: the SVG of [`super::svg`] rendered by resvg, with the system's fonts so that Chinese labels draw
//! (any of the fonts [`super::svg::FONTS`] names; WenQuanYi Micro Hei or Noto Sans CJK on Linux).

use crate::{Error, Result};
use resvg::{tiny_skia, usvg};

/// Renders `svg` at `zoom` × its own size (2 gives 2,000 px wide maps, sharp when printed) and encodes it as PNG.
pub fn render(svg: &str, zoom: f32) -> Result<Vec<u8>> {
    let mut options = usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| Error::input("map", format!("SVG: {e}")))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(zoom)
        .ok_or_else(|| Error::input("map", "empty map"))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| {
        Error::input(
            "map",
            format!("cannot allocate a {}×{} image", size.width(), size.height()),
        )
    })?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(zoom, zoom),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| Error::input("map", format!("PNG: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_small_svg() {
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"20\" height=\"10\"><rect width=\"10\" \
                   height=\"10\" fill=\"#ff0000\"/></svg>";
        let png = render(svg, 2.0).unwrap();
        let image = tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!((image.width(), image.height()), (40, 20));
        let red = image
            .pixels()
            .iter()
            .filter(|p| p.red() == 255 && p.green() == 0)
            .count();
        assert_eq!(red, 20 * 20);
    }
}

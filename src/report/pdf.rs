//! The map as PDF: the same SVG the map writer makes, converted by `svg2pdf` (pure Rust, vector output, text kept as
//! text with the fonts subset and embedded), with the system's fonts as for PNG so that Chinese labels draw.

use crate::{Error, Result};
use resvg::usvg;

/// Converts `svg` to a one-page PDF of the same size.
pub fn render(svg: &str) -> Result<Vec<u8>> {
    let mut options = usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| Error::input("map", format!("SVG: {e}")))?;
    svg2pdf::to_pdf(
        &tree,
        svg2pdf::ConversionOptions::default(),
        svg2pdf::PageOptions::default(),
    )
    .map_err(|e| Error::input("map", format!("PDF: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_pdf_is_a_pdf_of_the_svg_and_the_same_bytes_every_run() {
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"20\" height=\"10\"><rect width=\"10\" \
                   height=\"10\" fill=\"#ff0000\"/></svg>";
        let pdf = render(svg).unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "{:?}", &pdf[..8]);
        assert!(pdf.windows(9).any(|w| w == b"/MediaBox"));
        assert_eq!(pdf, render(svg).unwrap());
    }
}

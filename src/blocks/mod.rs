//! Blocks: the building bricks of management units, and how they fit together.
//!
//! A unit's boundary must be "clear and recognisable" (沪民区划〔2018〕6号 一(一): 区域边界清晰可辨), so units are
//! unions of blocks bounded by roads, rivers, canals and railways. When no block layer is given, blocks are derived:
//!
//! 1. [`clean_lines`] closes the gaps a display-oriented line layer leaves (snapping, extending dangles), keeping
//!    every added piece apart as *inferred*;
//! 2. [`derive_blocks`] cuts the town polygon along the lines and merges slivers;
//! 3. [`adjacency`] says which blocks border which, refusing to cross expressways and railways;
//! 4. [`dissolve`] turns a set of blocks into one clean unit polygon, and [`node_shared_vertices`] gives the
//!    dissolved units of one partition the same vertices along every boundary they share.
//!
//! Everything here is plain geometry in a projected metric CRS: lengths in metres, areas in m², no I/O.

mod adjacency;
mod clean;
mod dissolve;
mod node;
mod overlap;
mod polygonize;
#[cfg(test)]
mod realdata_tests;

pub use adjacency::{adjacency, Adjacency};
pub use clean::{clean_lines, CleanSettings};
pub use dissolve::{dissolve, dissolve_with, DissolveSettings};
pub use node::node_shared_vertices;
pub use polygonize::derive_blocks;

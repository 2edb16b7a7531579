//! One error type for the whole library.
//!
//! Every variant names where the problem is — the file, and where it applies the layer and the feature (by index or
//! id) — so that the binary can print a single line a planner can act on and exit with code 2. Broken *policy rules*
//! are not errors: they are check results (see `validate`).

use std::path::{Path, PathBuf};

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading inputs, configuring a run or writing outputs.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{}: {action}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done to it ("reading", "writing"…).
        action: &'static str,
        /// Not a `#[source]`: the message already says it, and the binary prints the cause chain — marking it a
        /// source would print the OS error twice on the one line.
        cause: std::io::Error,
    },
    /// The file is not in the format its extension or content promises (truncated, garbage, wrong structure).
    #[error("{}: {problem}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// One feature of a layer is unusable (wrong geometry type, bad coordinates, bad attribute value…).
    #[error("{}: feature {feature}: {problem}", path.display())]
    Feature {
        /// The file.
        path: PathBuf,
        /// The feature, as `<n> (id X)`.
        feature: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A field named in the configuration or on the command line is not in the layer.
    #[error("{}: field `{field}` does not exist (available: {available})", path.display())]
    MissingField {
        /// The file.
        path: PathBuf,
        /// The field asked for.
        field: String,
        /// The fields the layer has.
        available: String,
    },
    /// A coordinate reference system could not be understood or a transformation failed.
    #[error("{context}: CRS `{crs}`: {problem}")]
    Crs {
        /// The layer or setting the CRS belongs to.
        context: String,
        /// The CRS as given.
        crs: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A population grid is unusable (layout, compression, georeferencing, values).
    #[error("{}: grid: {problem}", path.display())]
    Grid {
        /// The grid file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The study-area configuration (`bmu.toml` or flags) is wrong.
    #[error("{}: {problem}", path.display())]
    Config {
        /// The `bmu.toml`, or `<flags>`.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// An output the run may not write: it is an input of the run, another output, or not a regular file.
    #[error("{}: {problem}", path.display())]
    Output {
        /// The output path.
        path: PathBuf,
        /// Why it may not be written.
        problem: String,
    },
    /// The inputs are individually fine but cannot be used together (e.g. layers that do not overlap).
    #[error("{context}: {problem}")]
    Input {
        /// What the input concerns (a unit, the report…).
        context: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl Error {
    /// A feature-level problem in `path`.
    pub fn feature(path: &Path, feature: impl ToString, problem: impl Into<String>) -> Self {
        Error::Feature {
            path: path.to_path_buf(),
            feature: feature.to_string(),
            problem: problem.into(),
        }
    }

    /// A file-level format problem in `path`.
    pub fn format(path: &Path, problem: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    /// An I/O failure on `path` while doing `action` ("open", "read", "write", "rename").
    pub fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            action,
            cause: source,
        }
    }

    /// Whether this is a write to a closed pipe (`bmu … | head`), which ends a run quietly rather than as an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { cause, .. } if cause.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// A population-grid problem in `path`.
    pub fn grid(path: &Path, problem: impl Into<String>) -> Self {
        Error::Grid {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    /// A configuration problem in `path` (the `bmu.toml`, or `<flags>` for the command line).
    pub fn config(path: &Path, problem: impl Into<String>) -> Self {
        Error::Config {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    /// Inputs that cannot be used together.
    pub fn input(context: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Input {
            context: context.into(),
            problem: problem.into(),
        }
    }
}

//! Writing outputs so that nothing is lost or half-written: a temporary file in the same folder, then a rename.

use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(path, "create", e))?;
        file.write_all(bytes).map_err(|e| Error::io(path, "write", e))?;
        file.sync_all().map_err(|e| Error::io(path, "write", e))?;
        Ok(())
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, "rename", e)
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A temporary sibling of `path`: same folder (so the rename is atomic), hidden, unique to this process.
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Renames a set of finished temporary files into place (Shapefile's `.shp/.shx/.dbf/.prj/.cpg`), removing all of
/// them if any step fails.
pub fn commit_all(pairs: &[(PathBuf, PathBuf)]) -> Result<()> {
    for (tmp, dest) in pairs {
        if let Err(e) = std::fs::rename(tmp, dest) {
            for (t, _) in pairs {
                let _ = std::fs::remove_file(t);
            }
            return Err(Error::io(dest, "rename", e));
        }
    }
    Ok(())
}

/// Refuses an output path that is one of the inputs (compared after resolving links where the file exists).
pub fn refuse_input_overwrite(output: &Path, inputs: &[&Path]) -> Result<()> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let out = canonical(output);
    if inputs.iter().any(|i| canonical(i) == out) {
        return Err(Error::io(
            output,
            "write",
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "refusing to overwrite an input file",
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_then_renames_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_bytes(&path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn refuses_to_overwrite_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.geojson");
        std::fs::write(&path, "x").unwrap();
        assert!(refuse_input_overwrite(&path, &[&path]).is_err());
        assert!(refuse_input_overwrite(&dir.path().join("other.geojson"), &[&path]).is_ok());
    }
}

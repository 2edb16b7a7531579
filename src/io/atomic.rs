//! Inputs are never written, and a run's outputs appear all together or not at all.
//!
//! Every writer of a run (layers, JSON report, problems, candidates, HTML dossier, map, population tables) goes
//! through one [`Staging`]:
//!
//! 1. [`Staging::new`] records the identity (device and inode, after following links) of every file the run read,
//!    with its Shapefile sidecars (`.shp .shx .dbf .prj .cpg`), and `bmu.toml`.
//! 2. [`Staging::claim`] reserves each output before the expensive work: an output that resolves to an input — by
//!    link, hard link, case-insensitive name or through a sidecar — or to another output of the run is refused.
//! 3. [`Staging::write`] / [`Staging::create`] write into a uniquely named temporary file (`tempfile`) in the
//!    output's folder, locked while this process lives so that a later run can tell a stale one (left by `kill -9`)
//!    from a live one.
//! 4. [`Staging::commit`] renames every temporary into place, under a lock on each output folder so that two runs
//!    cannot interleave their sets; if a rename fails, the outputs already replaced are restored. Dropping a
//!    `Staging` without committing (the run failed) removes its temporaries and any folder it created.

use crate::{Error, Result};
use fs4::FileExt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tempfile::NamedTempFile;

/// The extensions of one Shapefile: writing `x.shp` writes all of them, and reading it reads them.
pub const SHAPEFILE_PARTS: [&str; 5] = ["shp", "shx", "dbf", "prj", "cpg"];

/// Temporaries are `.bmu-<random>.<name>.tmp`: hidden, unique, and recognisable as ours when stale.
const PREFIX: &str = ".bmu-";
const SUFFIX: &str = ".tmp";

/// A temporary younger than this is never removed as stale: it may belong to a run that has created it but not yet
/// locked it.
const STALE_AGE: Duration = Duration::from_secs(10);

/// What a file is, independent of the name it was reached by.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileId(
    #[cfg(unix)] (u64, u64),
    // Without inodes, the canonical path in lower case (the usual file systems there ignore case).
    #[cfg(not(unix))] PathBuf,
);

/// The identity of an existing file (links followed); None when there is none.
fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Metadata rather than `same_file::Handle`: opening a FIFO to compare it would block.
        let m = std::fs::metadata(path).ok()?;
        Some(FileId((m.dev(), m.ino())))
    }
    #[cfg(not(unix))]
    {
        let p = std::fs::canonicalize(path).ok()?;
        Some(FileId(PathBuf::from(p.to_string_lossy().to_lowercase())))
    }
}

/// Where a path that may not exist yet would be: its folder resolved, its name as given (lower case where file
/// systems usually ignore case), so that `a/../x.json` and `x.json` compare equal.
fn path_key(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folder =
        std::fs::canonicalize(parent).unwrap_or_else(|_| std::path::absolute(parent).unwrap_or_default());
    let key = folder.join(name);
    if cfg!(any(windows, target_os = "macos")) {
        PathBuf::from(key.to_string_lossy().to_lowercase())
    } else {
        key
    }
}

fn is_shapefile_part(path: &Path) -> bool {
    SHAPEFILE_PARTS.contains(&crate::io::extension(path).as_str())
}

/// The files writing `path` produces: the path itself, and for a Shapefile part the whole set with the lower-case
/// extensions the writer uses.
fn output_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    if is_shapefile_part(path) {
        for ext in SHAPEFILE_PARTS {
            let p = path.with_extension(ext);
            if !files.contains(&p) {
                files.push(p);
            }
        }
    }
    files
}

/// The files reading `path` may read: the path, and for a Shapefile part its sidecars in either case.
fn input_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    if is_shapefile_part(path) {
        for ext in SHAPEFILE_PARTS {
            files.push(path.with_extension(ext));
            files.push(path.with_extension(ext.to_ascii_uppercase()));
        }
    }
    files
}

struct Input {
    /// The input as the run named it (for messages).
    named: PathBuf,
    /// The file read: the input or one of its sidecars.
    file: PathBuf,
    key: PathBuf,
    id: Option<FileId>,
}

struct Claim {
    /// The output as the run named it (for messages).
    named: PathBuf,
    /// What names it: a flag, or a default.
    role: String,
    /// The file written: the output or one of its sidecars.
    file: PathBuf,
    key: PathBuf,
    id: Option<FileId>,
    staged: bool,
}

struct Staged {
    tmp: NamedTempFile,
    dest: PathBuf,
}

/// The outputs of one run, written aside and renamed into place together. See the module documentation.
pub struct Staging {
    inputs: Vec<Input>,
    claims: Vec<Claim>,
    staged: Vec<Staged>,
    /// Folders this run created for its outputs, removed again (when empty) if it fails.
    created: Vec<PathBuf>,
}

fn refusal(path: &Path, problem: String) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        problem,
    }
}

impl Staging {
    /// A staging area for a run that read `inputs` (layers, grids, `bmu.toml`; sidecars are added here).
    pub fn new<P: AsRef<Path>>(inputs: &[P]) -> Self {
        let mut list = Vec::new();
        for named in inputs {
            let named = named.as_ref();
            for file in input_files(named) {
                let id = file_id(&file);
                // A sidecar that does not exist was not read.
                if id.is_none() && file != named {
                    continue;
                }
                list.push(Input {
                    named: named.to_path_buf(),
                    key: path_key(&file),
                    file,
                    id,
                });
            }
        }
        Staging {
            inputs: list,
            claims: Vec::new(),
            staged: Vec::new(),
            created: Vec::new(),
        }
    }

    /// Reserves `path` as an output (`role` says which flag or default names it, for messages). Refuses an output
    /// that is, or whose Shapefile sidecars are, an input of the run or another output, and an existing
    /// destination that is not a regular file. Claiming the same output twice under the same role is a no-op.
    pub fn claim(&mut self, path: &Path, role: &str) -> Result<()> {
        let mut new = Vec::new();
        for file in output_files(path) {
            let key = path_key(&file);
            let id = file_id(&file);
            let through = |other: &Path| {
                if file == path {
                    String::new()
                } else {
                    format!(" (its sidecar {} is {})", file.display(), other.display())
                }
            };
            if let Ok(m) = std::fs::metadata(&file) {
                if !m.is_file() {
                    return Err(refusal(
                        path,
                        format!(
                            "{role}: {} exists and is not a regular file; name a new file",
                            file.display()
                        ),
                    ));
                }
            }
            let same = |k: &PathBuf, i: &Option<FileId>| *k == key || (id.is_some() && *i == id);
            if let Some(input) = self.inputs.iter().find(|i| same(&i.key, &i.id)) {
                let what = if input.named == path {
                    "is".to_string()
                } else {
                    format!("would overwrite {},", input.named.display())
                };
                return Err(refusal(
                    path,
                    format!(
                        "{role} {what} an input of this run{}; name another output",
                        through(&input.file)
                    ),
                ));
            }
            if let Some(c) = self.claims.iter().find(|c| same(&c.key, &c.id)) {
                if c.named == path && c.role == role {
                    return Ok(());
                }
                return Err(refusal(
                    path,
                    format!(
                        "{role} and {} ({}) are the same file{}; two outputs of one run cannot share a file",
                        c.role,
                        c.named.display(),
                        through(&c.file)
                    ),
                ));
            }
            new.push(Claim {
                named: path.to_path_buf(),
                role: role.to_string(),
                file,
                key,
                id,
                staged: false,
            });
        }
        self.claims.extend(new);
        Ok(())
    }

    /// Writes `bytes` as the future content of `path`.
    pub fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut file = self.create(path)?;
        file.write_all(bytes).map_err(|e| Error::io(path, "write", e))?;
        file.flush().map_err(|e| Error::io(path, "write", e))
    }

    /// A file to write the future content of `path` into (for writers that stream, like the Shapefile writer).
    /// Claims `path` if it was not claimed; refuses a second write to the same output.
    pub fn create(&mut self, path: &Path) -> Result<File> {
        let key = path_key(path);
        if !self.claims.iter().any(|c| c.key == key) {
            self.claim(path, "output")?;
        }
        let Some(claim) = self.claims.iter_mut().find(|c| c.key == key) else {
            return Err(refusal(path, "output not claimed".into()));
        };
        if claim.staged {
            return Err(refusal(
                path,
                format!("{} is written twice in one run", claim.role),
            ));
        }
        claim.staged = true;
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        self.create_folder(&folder)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let suffix = format!(".{name}{SUFFIX}");
        let mut builder = tempfile::Builder::new();
        builder.prefix(PREFIX).suffix(&suffix);
        #[cfg(unix)]
        {
            // tempfile's default is 0600; outputs are ordinary files, shared like any other (umask applies).
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder
            .tempfile_in(&folder)
            .map_err(|e| Error::io(path, "create", e))?;
        // Marks the temporary live; a file system without locks only loses the stale-file cleanup.
        let _ = FileExt::try_lock(tmp.as_file());
        let file = tmp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io(path, "create", e))?;
        self.staged.push(Staged {
            tmp,
            dest: path.to_path_buf(),
        });
        Ok(file)
    }

    /// Creates `folder` and its missing parents, remembering which ones so a failed run can remove them.
    fn create_folder(&mut self, folder: &Path) -> Result<()> {
        let missing: Vec<PathBuf> = folder
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty() && !a.exists())
            .map(Path::to_path_buf)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, "create folder", e))?;
        // Deepest last, so that removal in reverse order empties children first.
        self.created.extend(missing.into_iter().rev());
        Ok(())
    }

    /// The outputs written so far, in the order they were written.
    pub fn written(&self) -> Vec<PathBuf> {
        self.staged.iter().map(|s| s.dest.clone()).collect()
    }

    /// Renames every staged output into place: all of them, or (if a rename fails) none, the files they replaced
    /// restored. Stale temporaries of earlier runs in the output folders are removed.
    pub fn commit(mut self) -> Result<()> {
        let staged = std::mem::take(&mut self.staged);
        for s in &staged {
            s.tmp
                .as_file()
                .sync_all()
                .map_err(|e| Error::io(&s.dest, "write", e))?;
        }
        let mut folders: Vec<PathBuf> = staged.iter().map(|s| folder_of(&s.dest)).collect();
        folders.sort();
        folders.dedup();
        // Sorted, so two runs take the locks in the same order and cannot deadlock.
        let locks: Vec<File> = folders.iter().filter_map(|f| lock_folder(f)).collect();
        let done_names: Vec<(PathBuf, String)> = staged
            .iter()
            .map(|s| {
                let name = s.dest.file_name().map(|n| n.to_string_lossy().into_owned());
                (folder_of(&s.dest), name.unwrap_or_default())
            })
            .collect();
        let mut done: Vec<(PathBuf, Option<NamedTempFile<()>>)> = Vec::new();
        for s in staged {
            let backup = backup_of(&s.dest);
            match s.tmp.persist(&s.dest) {
                Ok(_) => done.push((s.dest, backup)),
                Err(e) => {
                    let err = Error::io(&s.dest, "rename", e.error);
                    for (dest, backup) in done.into_iter().rev() {
                        match backup {
                            Some(b) => drop(b.persist(&dest)),
                            None => drop(std::fs::remove_file(&dest)),
                        }
                    }
                    return Err(err);
                }
            }
        }
        // The backups go with `done`; the new folders stay.
        drop(done);
        self.created.clear();
        for folder in &folders {
            if let Ok(f) = File::open(folder) {
                let _ = f.sync_all();
            }
            let names: Vec<String> = done_names
                .iter()
                .filter(|(f, _)| f == folder)
                .map(|(_, n)| n.clone())
                .collect();
            remove_stale(folder, &names);
        }
        drop(locks);
        Ok(())
    }
}

impl Drop for Staging {
    /// A run that did not commit leaves nothing: its temporaries go (`NamedTempFile` removes them), then the
    /// folders it created, if empty.
    fn drop(&mut self) {
        self.staged.clear();
        for folder in self.created.iter().rev() {
            let _ = std::fs::remove_dir(folder);
        }
    }
}

fn folder_of(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf())
}

/// Locks a folder against another run's commit into it (flock on the folder itself: no lock file is left behind).
/// None where folders cannot be opened or locked, which only loses the protection against concurrent runs.
fn lock_folder(folder: &Path) -> Option<File> {
    let f = File::open(folder).ok()?;
    FileExt::lock(&f).ok()?;
    Some(f)
}

/// A hard link to the file `dest` names now, so that a failed commit can put it back; removed when dropped. None
/// when there is nothing to keep or the file system has no hard links.
fn backup_of(dest: &Path) -> Option<NamedTempFile<()>> {
    std::fs::symlink_metadata(dest).ok()?;
    let name = dest.file_name()?.to_string_lossy().into_owned();
    tempfile::Builder::new()
        .prefix(PREFIX)
        .suffix(&format!(".{name}.old{SUFFIX}"))
        .make_in(folder_of(dest), |p| std::fs::hard_link(dest, p))
        .ok()
}

/// Removes `.bmu-*.tmp` files in `folder` that no live process holds (a run killed while writing), and the
/// `.<name>.<pid>.tmp` files that bmu versions before staging left for the outputs `names`.
fn remove_stale(folder: &Path, names: &[String]) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(PREFIX) && name.ends_with(SUFFIX);
        if !ours && !legacy_temporary_of(&name).is_some_and(|n| names.iter().any(|d| d == n)) {
            continue;
        }
        let path = entry.path();
        let old = entry
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= STALE_AGE);
        if !old {
            continue;
        }
        let Ok(file) = File::open(&path) else { continue };
        if ours && FileExt::try_lock(&file).is_err() {
            continue;
        }
        let _ = std::fs::remove_file(&path);
    }
}

/// The output a `.<name>.<pid>.tmp` file (the pattern of bmu's temporaries before staging) was for.
fn legacy_temporary_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?.strip_suffix(SUFFIX)?;
    let (output, pid) = rest.rsplit_once('.')?;
    (!output.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn nothing_appears_before_commit_and_everything_after() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("sub/b.json");
        let mut s = Staging::new::<&Path>(&[]);
        s.write(&a, b"a").unwrap();
        s.write(&b, b"b").unwrap();
        assert!(!a.exists() && !b.exists());
        s.commit().unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"a");
        assert_eq!(std::fs::read(&b).unwrap(), b"b");
        assert_eq!(names(dir.path()), ["a.json", "sub"]);
    }

    #[test]
    fn failed_run_keeps_no_output_no_temporary_and_no_new_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new::<&Path>(&[]);
        s.write(&dir.path().join("out/deeper/a.json"), b"a").unwrap();
        drop(s);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn failed_commit_restores_the_outputs_it_had_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "old").unwrap();
        let blocked = dir.path().join("b.json");
        let mut s = Staging::new::<&Path>(&[]);
        s.write(&a, b"new").unwrap();
        s.write(&blocked, b"b").unwrap();
        // A folder appearing where the second output goes makes its rename fail after the first succeeded.
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("keep"), "x").unwrap();
        assert!(s.commit().is_err());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old");
        assert_eq!(names(dir.path()), ["a.json", "b.json"]);
    }

    #[test]
    fn output_that_is_an_input_by_hard_link_or_shapefile_sidecar_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let town = dir.path().join("town.shp");
        for ext in ["shp", "shx", "dbf"] {
            std::fs::write(town.with_extension(ext), "x").unwrap();
        }
        let linked = dir.path().join("linked.json");
        std::fs::hard_link(town.with_extension("dbf"), &linked).unwrap();
        let mut s = Staging::new(&[&town]);
        let e = s.claim(&dir.path().join("town.dbf"), "--report").unwrap_err();
        assert!(e.to_string().contains("an input of this run"), "{e}");
        assert!(s.claim(&dir.path().join("town.SHP"), "--out").is_err());
        assert!(s.claim(&linked, "--report").is_err());
        assert!(s.claim(&dir.path().join("units.shp"), "--out").is_ok());
    }

    #[test]
    fn two_outputs_with_one_path_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new::<&Path>(&[]);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        s.claim(&dir.path().join("same.json"), "--out").unwrap();
        assert!(s.claim(&dir.path().join("new/./x.json"), "--map").is_ok());
        assert!(s.claim(&dir.path().join("new/x.json"), "--report-html").is_err());
        let e = s
            .claim(&dir.path().join("sub/../same.json"), "--report")
            .unwrap_err();
        assert!(e.to_string().contains("same file"), "{e}");
        s.claim(&dir.path().join("u.shp"), "--out").unwrap();
        assert!(s.claim(&dir.path().join("u.dbf"), "--problems").is_err());
    }

    #[test]
    fn writing_one_output_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Staging::new::<&Path>(&[]);
        s.write(&dir.path().join("a.json"), b"1").unwrap();
        assert!(s.write(&dir.path().join("a.json"), b"2").is_err());
    }

    #[test]
    fn stale_temporaries_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let stale = dir.path().join(".bmu-AbC123.units.geojson.tmp");
        let legacy = dir.path().join(".units.geojson.4242.tmp");
        let live = dir.path().join(".bmu-XyZ789.report.json.tmp");
        for p in [&stale, &legacy, &live] {
            let f = File::create(p).unwrap();
            f.set_modified(old).unwrap();
        }
        let holder = File::open(&live).unwrap();
        FileExt::lock(&holder).unwrap();
        let mut s = Staging::new::<&Path>(&[]);
        s.write(&dir.path().join("units.geojson"), b"{}").unwrap();
        s.commit().unwrap();
        assert_eq!(
            names(dir.path()),
            [".bmu-XyZ789.report.json.tmp", "units.geojson"]
        );
    }

    #[test]
    fn legacy_pattern_is_recognised_narrowly() {
        assert_eq!(
            legacy_temporary_of(".units.geojson.123.tmp"),
            Some("units.geojson")
        );
        assert_eq!(legacy_temporary_of(".units.geojson.tmp"), None);
        assert_eq!(legacy_temporary_of("units.geojson.123.tmp"), None);
        assert_eq!(legacy_temporary_of("..123.tmp"), None);
    }
}

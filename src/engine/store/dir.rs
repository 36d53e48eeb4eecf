//! The data directory's shared vocabulary: what damage is, which files a folder holds, and how
//! a file is replaced atomically.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A data directory that is damaged or incomplete: what is wrong, with the file it concerns.
/// Opening stopped and changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The data directory.
    pub dir: PathBuf,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}. The engine changed nothing. Restore the file from a backup, or run `ruuvistream repair {}` to \
             salvage every readable row (it reports what was lost and keeps the damaged files in its damaged/ folder).",
            self.problem,
            self.dir.display()
        )
    }
}

impl std::error::Error for Damage {}

impl Damage {
    /// The damage as an I/O error of kind `InvalidData` (its inner error is the [`Damage`]).
    pub fn into_io(dir: &Path, problem: impl Into<String>) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, Self { dir: dir.to_path_buf(), problem: problem.into() })
    }

    /// The [`Damage`] inside an I/O error, if that is what it is.
    pub fn of(e: &io::Error) -> Option<&Self> {
        e.get_ref()?.downcast_ref()
    }
}

/// Every file below `dir`, as paths relative to it with `/`, sorted.
pub fn files_below(dir: &Path) -> io::Result<Vec<String>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type()?.is_dir() {
                walk(&entry.path(), &format!("{name}/"), out)?;
            } else {
                out.push(name);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

pub(crate) use crate::journal::{replace_file, sync_dir};

//! Writing a scaffold all or nothing: new files are created (never overwritten), edited files
//! (the stack file, the README) are replaced last; when anything fails, what was created is
//! removed, directories included, and the edited files are put back, so the tree is as it was.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What to write under `root`: new files, and existing files' new text.
pub struct Changes<'a> {
    pub root: &'a Path,
    pub files: &'a [(String, String)],
    pub edits: &'a [(PathBuf, String)],
}

/// Files of `changes` that exist already (nothing may be overwritten).
pub fn existing(changes: &Changes) -> Vec<String> {
    changes
        .files
        .iter()
        .filter(|(path, _)| changes.root.join(path).exists())
        .map(|(path, _)| path.clone())
        .collect()
}

pub fn apply(changes: &Changes) -> Result<()> {
    let mut undo = Undo::default();
    match write_all(changes, &mut undo) {
        Ok(()) => Ok(()),
        Err(e) => {
            undo.run();
            Err(e)
        }
    }
}

#[derive(Default)]
struct Undo {
    files: Vec<PathBuf>,
    /// Directories created, outermost first.
    dirs: Vec<PathBuf>,
    /// Edited files with their text before.
    edited: Vec<(PathBuf, String)>,
}

impl Undo {
    fn run(self) {
        for f in self.files.iter().rev() {
            let _ = std::fs::remove_file(f);
        }
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        for (file, text) in self.edited {
            let _ = std::fs::write(file, text);
        }
    }
}

fn write_all(changes: &Changes, undo: &mut Undo) -> Result<()> {
    for (rel, text) in changes.files {
        let path = changes.root.join(rel);
        create_parents(&path, undo)?;
        // create_new: a file that appeared since the check is not overwritten either.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(Error::io(format!("creating {rel}")))?;
        undo.files.push(path.clone());
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(Error::io(format!("writing {rel}")))?;
    }
    for (file, text) in changes.edits {
        let before = std::fs::read_to_string(file)
            .map_err(Error::io(format!("reading {}", file.display())))?;
        // Written beside it and renamed over it: a reader sees the old file or the new one.
        let temp = file.with_extension("msctl-new");
        std::fs::write(&temp, text).map_err(Error::io(format!("writing {}", temp.display())))?;
        undo.edited.push((file.clone(), before));
        std::fs::rename(&temp, file).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            Error::io(format!("replacing {}", file.display()))(e)
        })?;
    }
    Ok(())
}

/// Creates the missing parents of `path`, remembering each for the undo.
fn create_parents(path: &Path, undo: &mut Undo) -> Result<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let missing: Vec<&Path> = parent
        .ancestors()
        .take_while(|d| !d.exists())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    for dir in missing {
        std::fs::create_dir(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        undo.dirs.push(dir.to_path_buf());
    }
    Ok(())
}

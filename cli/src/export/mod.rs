//! The stack in other tools' formats, one module per format. Each is built from typed structs
//! of the target format, so what can be written is what the format says.

pub mod compose;
pub mod helm;
pub mod k8s;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Writes `files` (paths relative to `dir`) into `dir`, first removing every file an earlier
/// export wrote there (those that start with [`k8s::HEADER`]), so a service removed from the
/// stack leaves nothing behind, and nothing a person put there is touched.
pub fn write_tree(dir: &Path, files: &[(PathBuf, String)]) -> Result<()> {
    remove_generated(dir)?;
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(Error::io(format!("creating {}", parent.display())))?;
        }
        std::fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))?;
    }
    Ok(())
}

fn remove_generated(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_generated(&path)?;
            // Only if the export's files were all it held.
            let _ = std::fs::remove_dir(&path);
        } else if generated(&path) {
            std::fs::remove_file(&path)
                .map_err(Error::io(format!("removing {}", path.display())))?;
        }
    }
    Ok(())
}

fn generated(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 32];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    let header = k8s::HEADER.as_bytes();
    n >= header.len() && &head[..header.len()] == header
        || path.extension().is_some_and(|e| e == "json") && json_generated(path)
}

/// `values.schema.json` cannot carry a comment: it is ours when its `$comment` says so.
fn json_generated(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v.get("$comment")?
                .as_str()
                .map(|c| c.starts_with(&k8s::HEADER[2..]))
        })
        .unwrap_or(false)
}

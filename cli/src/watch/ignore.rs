//! Paths a watch never reacts to: the build's own output, version control, and the temporary
//! files editors write beside the file being saved.

use std::path::Path;

/// Whether a change at `path` is noise: under `target` or a `.git` directory, or an editor's
/// temporary file (Vim's swap files and `4913` probe, Emacs' lock and autosave files, `~`
/// backups, JetBrains' safe-write copies, Kate's swap files, GNOME's output streams, `sed -i`'s
/// temporary files).
pub fn is_noise(path: &Path, target: &Path) -> bool {
    if path.starts_with(target) || path.components().any(|c| c.as_os_str() == ".git") {
        return true;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let vim_swap = name.starts_with('.')
        && [".swp", ".swo", ".swx", ".swpx"]
            .iter()
            .any(|s| name.ends_with(s));
    let sed_temp = name.len() == 9 && name.starts_with("sed");
    vim_swap
        || sed_temp
        || name == "4913"
        || name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".kate-swp")
        || name.starts_with(".goutputstream-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_version_control_and_editor_files_are_noise() {
        let target = Path::new("/w/target");
        for noise in [
            "/w/target/debug/order-service",
            "/w/.git/index",
            "/w/services/a/src/.lib.rs.swp",
            "/w/services/a/src/4913",
            "/w/services/a/src/lib.rs~",
            "/w/services/a/src/.#lib.rs",
            "/w/services/a/src/#lib.rs#",
            "/w/services/a/src/lib.rs___jb_tmp___",
            "/w/services/a/src/sedAbC12x",
            "/w/services/a/.goutputstream-XYZ",
        ] {
            assert!(is_noise(Path::new(noise), target), "{noise}");
        }
        for change in [
            "/w/services/a/src/lib.rs",
            "/w/services/a/Cargo.toml",
            "/w/msctl.yaml",
            "/w/services/a/src/sed.rs",
            "/w/targets/x.rs",
        ] {
            assert!(!is_noise(Path::new(change), target), "{change}");
        }
    }
}

//! Embeds the repository's `templates/` into the binary, so `msctl new service` works in any
//! project, not only in this repository (a project's own `templates/` overrides file by file).

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    // Cargo scans a directory given here for any change below it.
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    // templates/README.md documents the templates; it is not one.
    files.retain(|f| f != &root.join("README.md"));
    let mut out = String::from("/// Every file under templates/: (path relative to it, text).\n");
    out.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        out.push_str(&format!(
            "    ({rel:?}, include_str!({:?})),\n",
            file.canonicalize()
                .expect("readable template")
                .display()
                .to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("templates.rs");
    std::fs::write(dest, out).expect("writing templates.rs");
}

fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, into);
        } else {
            into.push(path);
        }
    }
}

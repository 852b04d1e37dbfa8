//! The host side of a build: commands with a clean environment, private namespaces and chroots,
//! the Debian mirrors this machine's apt uses, files written into a root, and progress read
//! from debootstrap's and apt's output.

use super::recipe::Asset;
use super::{find_tool, HOOK_DIR, STD_PATH};
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
const DEFAULT_SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";

/// A command with a clean environment: standard PATH, C.UTF-8, no prompts; proxies kept.
pub(super) fn tool_command(program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .env("PATH", STD_PATH)
        .env("LANG", "C.UTF-8")
        .env("HOME", "/root")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("DEBCONF_NONINTERACTIVE_SEEN", "true");
    for key in [
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
    ] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd
}

/// `unshare` with private mount and PID namespaces: mounts made by what runs inside vanish with
/// it, and so does every process it started (daemons a package starts included).
pub(super) fn namespaced() -> tokio::process::Command {
    let mut cmd = tool_command(find_tool("unshare").unwrap_or_else(|| "unshare".into()));
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
    ]);
    cmd
}

/// `script` run by /bin/sh in a chroot of `root`, with a fresh /proc.
pub(super) fn in_chroot(root: &Path, script: &str) -> tokio::process::Command {
    let mut cmd = namespaced();
    let mut mount_proc = std::ffi::OsString::from("--mount-proc=");
    mount_proc.push(root.join("proc"));
    cmd.arg(mount_proc)
        .arg(find_tool("chroot").unwrap_or_else(|| "chroot".into()))
        .arg(root)
        .args(["/bin/sh", "-euc", script]);
    cmd
}

/// The mirrors to build from: `$MSCTL_DEBIAN_MIRROR` / `$MSCTL_DEBIAN_SECURITY_MIRROR`, else what
/// this machine's apt uses for `suite` and `suite-security`, else deb.debian.org.
pub(super) fn mirrors(suite: &str) -> (String, String) {
    let sources = apt_sources();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let find = |wanted: &str| {
        sources
            .iter()
            .find(|(uri, suites)| {
                suites.iter().any(|s| s == wanted)
                    && (uri.starts_with("http://") || uri.starts_with("https://"))
            })
            .map(|(uri, _)| uri.trim_end_matches('/').to_owned())
    };
    let mirror = env("MSCTL_DEBIAN_MIRROR")
        .or_else(|| find(suite))
        .unwrap_or_else(|| DEFAULT_MIRROR.to_owned());
    let security = env("MSCTL_DEBIAN_SECURITY_MIRROR")
        .or_else(|| find(&format!("{suite}-security")))
        .unwrap_or_else(|| DEFAULT_SECURITY_MIRROR.to_owned());
    (mirror, security)
}

/// (URI, suites) of every `deb` source of this machine's apt (one-line and deb822 formats).
pub(super) fn apt_sources() -> Vec<(String, Vec<String>)> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        if file.extension().is_some_and(|e| e == "sources") {
            out.extend(parse_deb822_sources(&text));
        } else if file.extension().is_some_and(|e| e == "list") || file.ends_with("sources.list") {
            out.extend(parse_one_line_sources(&text));
        }
    }
    out
}

pub(super) fn parse_one_line_sources(text: &str) -> Vec<(String, Vec<String>)> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("").trim();
            let rest = line.strip_prefix("deb ")?.trim();
            // Options: `[arch=amd64 signed-by=...]`.
            let rest = if rest.starts_with('[') {
                rest.split_once(']')?.1.trim()
            } else {
                rest
            };
            let mut words = rest.split_whitespace();
            let uri = words.next()?.to_owned();
            let suite = words.next()?.to_owned();
            Some((uri, vec![suite]))
        })
        .collect()
}

pub(super) fn parse_deb822_sources(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: HashMap<String, String> = HashMap::new();
        let mut last: Option<String> = None;
        for line in stanza.lines() {
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(k) = &last {
                    let v = fields.entry(k.clone()).or_default();
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                fields.insert(k.clone(), v.trim().to_owned());
                last = Some(k);
            }
        }
        let is_deb = fields
            .get("types")
            .is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let enabled = fields.get("enabled").is_none_or(|e| e.trim() != "no");
        if !(is_deb && enabled) {
            continue;
        }
        let suites: Vec<String> = fields
            .get("suites")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        for uri in fields
            .get("uris")
            .map(|u| u.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default()
        {
            out.push((uri, suites.clone()));
        }
    }
    out
}

/// The host's resolver configuration, for apt inside the chroot (it shares the host network).
pub(super) fn copy_resolv_conf(root: &Path) -> io::Result<()> {
    let target = root.join("etc/resolv.conf");
    remove_if_present(&target)?;
    let content = fs::read("/etc/resolv.conf").unwrap_or_default();
    fs::write(&target, content)
}

/// Removes the build hooks and the host's resolver configuration from a built root. Docker
/// mounts its own /etc/resolv.conf, /etc/hosts and /etc/hostname into containers.
pub(super) fn finish_root(root: &Path) -> io::Result<()> {
    let hooks = root.join(HOOK_DIR);
    if fs::symlink_metadata(&hooks).is_ok() {
        fs::remove_dir_all(&hooks)?;
    }
    let resolv = root.join("etc/resolv.conf");
    remove_if_present(&resolv)?;
    fs::write(&resolv, b"")?;
    let hostname = root.join("etc/hostname");
    remove_if_present(&hostname)?;
    fs::write(&hostname, b"localhost\n")
}

pub(super) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `asset` at `path` (inside `root`), refusing to follow a symlink out of the root.
pub(super) fn write_file(root: &Path, path: &Path, asset: &Asset) -> io::Result<()> {
    let parent = path.parent().expect("asset path has a parent");
    fs::create_dir_all(parent)?;
    let real_parent = fs::canonicalize(parent)?;
    let real_root = fs::canonicalize(root)?;
    if !real_parent.starts_with(&real_root) {
        return Err(io::Error::other(format!(
            "{} leads out of the image root (to {})",
            parent.display(),
            real_parent.display()
        )));
    }
    let target = real_parent.join(path.file_name().expect("asset path has a file name"));
    remove_if_present(&target)?;
    fs::write(&target, asset.bytes)?;
    fs::set_permissions(&target, fs::Permissions::from_mode(asset.mode))
}

/// Turns build output into progress messages: "<phase>" or "<phase> (<detail>)".
#[derive(Clone)]
pub(super) struct Reporter {
    pub(super) bar: ProgressBar,
    pub(super) phase: Arc<Mutex<String>>,
}

impl Reporter {
    pub(super) fn new(bar: ProgressBar) -> Self {
        Reporter {
            bar,
            phase: Arc::new(Mutex::new(String::new())),
        }
    }

    pub(super) fn phase(&self, phase: impl Into<String>) {
        let phase = phase.into();
        self.bar.set_message(phase.clone());
        *self.phase.lock().unwrap() = phase;
    }

    pub(super) fn detail(&self, detail: &str) {
        let phase = self.phase.lock().unwrap().clone();
        self.bar.set_message(format!("{phase} ({detail})"));
    }

    /// One line of a step's output.
    pub(super) fn line(&self, line: &str) {
        if let Some(phase) = line.strip_prefix("msctl-phase: ") {
            self.phase(phase.trim());
        } else if let Some(detail) = progress_detail(line) {
            self.detail(&detail);
        }
    }
}

/// What a line of debootstrap or apt output says is happening, in a few words.
pub(super) fn progress_detail(line: &str) -> Option<String> {
    let package = |s: &str| {
        s.split_whitespace()
            .next()
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("")
            .trim_end_matches("...")
            .to_owned()
    };
    if let Some(rest) = line.strip_prefix("I: ") {
        for (prefix, verb) in [
            ("Retrieving ", "retrieving"),
            ("Extracting ", "extracting"),
            ("Unpacking ", "unpacking"),
            ("Configuring ", "configuring"),
            ("Installing ", "installing"),
        ] {
            if let Some(p) = rest.strip_prefix(prefix) {
                return Some(format!("{verb} {}", package(p)));
            }
        }
        return None;
    }
    if line.starts_with("Get:") {
        let words: Vec<&str> = line.split_whitespace().collect();
        return Some(if words.len() >= 6 {
            format!("downloading {}", words[4])
        } else {
            "reading package lists".to_owned()
        });
    }
    for (prefix, verb) in [("Unpacking ", "unpacking"), ("Setting up ", "setting up")] {
        if let Some(p) = line.strip_prefix(prefix) {
            return Some(format!("{verb} {}", package(p)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn reads_apt_sources() {
        let deb822 = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n";
        let s = parse_deb822_sources(deb822);
        assert_eq!(s[0].0, "http://deb.debian.org/debian");
        assert_eq!(s[0].1, vec!["bookworm", "bookworm-updates"]);
        assert_eq!(s[1].1, vec!["bookworm-security"]);
        let one = "# c\ndeb [signed-by=/x.gpg] http://mirror.example/debian bookworm main\ndeb-src http://x bookworm main\n";
        assert_eq!(
            parse_one_line_sources(one),
            vec![(
                "http://mirror.example/debian".to_owned(),
                vec!["bookworm".to_owned()]
            )]
        );
    }

    #[test]
    pub(super) fn progress_details() {
        assert_eq!(
            progress_detail("I: Retrieving bash 5.2.15-2+b13").as_deref(),
            Some("retrieving bash")
        );
        assert_eq!(
            progress_detail("Setting up perl (5.36.0-7+deb12u3) ...").as_deref(),
            Some("setting up perl")
        );
        assert_eq!(
            progress_detail("Unpacking libpq5:amd64 (15.18-0+deb12u1) ...").as_deref(),
            Some("unpacking libpq5")
        );
        assert_eq!(
            progress_detail("Get:3 http://deb.debian.org/debian bookworm/main amd64 libpq5 amd64 15.18-0+deb12u1 [190 kB]").as_deref(),
            Some("downloading libpq5")
        );
        assert_eq!(progress_detail("hello"), None);
    }
}

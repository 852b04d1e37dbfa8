//! The stack file's `secrets:`: what `msctl up` generates into `.env` before it reads it.
//!
//! Only `up` generates (not `--plan`, `ps`, `export`…): [`ensure`] asks the engine which
//! `with_volume` volumes exist, [`ensure_in`] decides and appends `NAME=value` lines to the
//! `.env` beside the stack file, and the stack is loaded again so that `${NAME}` sees them.
//! A variable already set, in the process environment or in `.env`, is never generated; a line
//! of the user's is never rewritten or reordered.

use crate::docker::{is_not_found, volume_name};
use crate::error::{Error, Result};
use crate::stack::{parse_dotenv, SecretKind, SecretSpec, Stack};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bollard::Docker;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Length of a generated password.
pub const PASSWORD_LEN: usize = 24;
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// 24 ASCII letters and digits from the OS's generator, at least one letter and one digit (the
/// password rule of the bundled user service, and of most others).
pub fn password(rng: &dyn SecureRandom) -> String {
    loop {
        let mut out = String::with_capacity(PASSWORD_LEN);
        while out.len() < PASSWORD_LEN {
            let mut byte = [0u8; 1];
            rng.fill(&mut byte).expect("the OS random generator");
            // 248 = 4 × 62: bytes above it would favour the first letters.
            if byte[0] < 248 {
                out.push(ALPHANUMERIC[(byte[0] % 62) as usize] as char);
            }
        }
        if out.bytes().any(|b| b.is_ascii_digit()) && out.bytes().any(|b| b.is_ascii_alphabetic()) {
            return out;
        }
    }
}

/// An Ed25519 key pair as `.env` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairText {
    /// Standard base64 (padded) of the PKCS#8 v2 document (`EncodingKey::from_ed_der`).
    pub private: String,
    /// Base64url without padding of the 32-byte public key (a JWK's `x`,
    /// `DecodingKey::from_ed_components`).
    pub public: String,
}

pub fn ed25519(rng: &dyn SecureRandom) -> KeyPairText {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(rng).expect("the OS random generator");
    let private = STANDARD.encode(pkcs8.as_ref());
    let public = public_of(&private).expect("a key ring just generated");
    KeyPairText { private, public }
}

/// The public key (base64url, no padding) of a private key as [`ed25519`] writes it.
pub fn public_of(private: &str) -> std::result::Result<String, String> {
    let der = STANDARD
        .decode(private.trim())
        .map_err(|e| format!("not standard base64 ({e})"))?;
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
        .map_err(|e| format!("not an Ed25519 PKCS#8 document ({e})"))?;
    Ok(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()))
}

/// What [`ensure_in`] did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Variables appended to `.env`, in order.
    pub written: Vec<String>,
    /// Lines for the user: a password shown once, a volume that keeps its credential.
    pub notes: Vec<String>,
}

/// `stack` (loaded from `source`, so its errors came before Docker was touched) with every
/// `secrets:` entry it lacks generated into `.env` first, and loaded again when `.env` changed,
/// so that `${NAME}` finds what was generated. The one way `up`, `test contracts` and
/// `up --watch` get a stack to start. With `dry_run` nothing is written and the stack shows the
/// secrets unset; `Outcome::written` names what would be.
pub async fn prepare(
    docker: &Docker,
    source: &crate::stack::Source,
    stack: Stack,
    dry_run: bool,
) -> Result<(Stack, Outcome)> {
    let outcome = ensure(docker, &stack, dry_run).await?;
    if dry_run || outcome.written.is_empty() {
        return Ok((stack, outcome));
    }
    Ok((source.load()?, outcome))
}

/// Generates what the stack's `secrets:` lack, asking the engine which `with_volume` volumes
/// exist. When `written` is not empty, `.env` changed and the stack must be loaded again.
/// With `dry_run` (`up --plan`), `written` names what would be generated and nothing is.
pub async fn ensure(docker: &Docker, stack: &Stack, dry_run: bool) -> Result<Outcome> {
    if stack.secrets.is_empty() {
        return Ok(Outcome::default());
    }
    let mut existing = BTreeSet::new();
    for volume in stack.secrets.iter().filter_map(|s| s.with_volume.as_ref()) {
        let name = volume_name(&stack.name, volume);
        match docker.inspect_volume(&name).await {
            Ok(_) => {
                existing.insert(volume.clone());
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::docker(format!("inspecting volume {name}"))(e)),
        }
    }
    let env: HashMap<String, String> = std::env::vars().collect();
    ensure_in(
        &stack.dir,
        &stack.name,
        &stack.secrets,
        &env,
        &existing,
        dry_run,
    )
}

/// Where a variable is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Env,
    DotEnv,
}

/// [`ensure`] without the engine: `env` is the process environment, `existing` the stack's
/// volumes (as the stack file names them) that exist. Every decision is made before `.env` is
/// touched, so an inconsistent pair changes nothing.
pub fn ensure_in(
    dir: &Path,
    project: &str,
    secrets: &[SecretSpec],
    env: &HashMap<String, String>,
    existing: &BTreeSet<String>,
    dry_run: bool,
) -> Result<Outcome> {
    let path = dir.join(".env");
    let current = read_dotenv(&path)?;
    let dotenv = parse_dotenv(&String::from_utf8_lossy(&current.bytes));
    let lookup = |name: &str| -> Option<(Source, &str)> {
        env.get(name)
            .map(|v| (Source::Env, v.as_str()))
            .or_else(|| dotenv.get(name).map(|v| (Source::DotEnv, v.as_str())))
    };
    let rng = SystemRandom::new();
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut outcome = Outcome::default();
    for secret in secrets {
        let name = &secret.name;
        let private = lookup(name);
        let public = secret.public.as_ref().map(|p| (p, lookup(p)));
        match (private, public) {
            (Some(_), None) | (Some(_), Some((_, Some(_)))) => {}
            // A pair whose private half is there: its public half is derived, never a new pair.
            (Some((from, value)), Some((public_name, None))) => {
                if from == Source::Env {
                    return Err(Error::Usage(format!(
                        "{public_name} is not set, and {name} comes from the environment: set {public_name} there too (msctl derives it only from a {name} in {})",
                        path.display()
                    )));
                }
                let derived = public_of(value)
                    .map_err(|e| Error::Usage(format!("{name} in {} is {e}", path.display())))?;
                lines.push((public_name.clone(), derived));
            }
            (None, Some((public_name, Some(_)))) => {
                return Err(Error::Usage(format!(
                    "{public_name} is set but {name} is not: set both, or neither and `msctl up` generates a pair"
                )));
            }
            (None, public) => {
                if let Some(volume) = secret
                    .with_volume
                    .as_ref()
                    .filter(|v| existing.contains(*v))
                {
                    outcome.notes.push(format!(
                        "msctl: {name} is not set, and volume {} exists: its data keeps the credential it was created with (the stack file's default for {name} applies; `msctl down --volumes` starts afresh)",
                        volume_name(project, volume)
                    ));
                    continue;
                }
                match secret.kind {
                    SecretKind::Password => lines.push((name.clone(), password(&rng))),
                    SecretKind::Ed25519 => {
                        let pair = ed25519(&rng);
                        lines.push((name.clone(), pair.private));
                        if let Some((public_name, _)) = public {
                            lines.push((public_name.clone(), pair.public));
                        }
                    }
                }
                if secret.show && !dry_run {
                    let (_, value) = lines.iter().rev().find(|(n, _)| n == name).expect("pushed");
                    outcome.notes.push(format!(
                        "msctl: generated {name}={value} (stored in {}, shown once)",
                        path.display()
                    ));
                }
            }
        }
    }
    if lines.is_empty() || dry_run {
        outcome.written = lines.into_iter().map(|(n, _)| n).collect();
        return Ok(outcome);
    }
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut block = format!("# generated by msctl up {stamp} (secrets: in the stack file)\n");
    for (name, value) in &lines {
        block.push_str(&format!("{name}={value}\n"));
    }
    append(&path, &current, &block)?;
    outcome.written = lines.into_iter().map(|(n, _)| n).collect();
    Ok(outcome)
}

/// `.env` as it is: its bytes and, when it exists, its mode and owner.
struct Current {
    bytes: Vec<u8>,
    meta: Option<std::fs::Metadata>,
    /// A link is read (what it names may set everything) but never written through.
    symlink: bool,
}

fn read_dotenv(path: &Path) -> Result<Current> {
    let symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(Error::Environment(format!(
            "{} is not a regular file",
            path.display()
        ))),
        Ok(meta) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::Environment(format!("cannot read {}: {e}", path.display())))?;
            Ok(Current {
                bytes,
                meta: Some(meta),
                symlink,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Current {
            bytes: Vec::new(),
            meta: None,
            symlink,
        }),
        Err(e) => Err(Error::Environment(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes `current` + `block` to a new file beside `path` and renames it over `path`: a crash
/// leaves the old file or the new one, never half a line. The new file keeps the old one's mode
/// and owner; a new `.env` is 0600 and, under sudo, belongs to the directory's owner.
fn append(path: &Path, current: &Current, block: &str) -> Result<()> {
    let unwritable = |e: std::io::Error| {
        Error::Environment(format!(
            "cannot write {} ({e}): set the stack's `secrets:` variables yourself, in the environment or in that file",
            path.display()
        ))
    };
    if current.symlink {
        return Err(Error::Environment(format!(
            "{} is a symbolic link: msctl writes generated secrets only into a regular file (set the stack's `secrets:` variables yourself, or replace the link by a file)",
            path.display()
        )));
    }
    if current
        .meta
        .as_ref()
        .is_some_and(|m| m.permissions().readonly())
    {
        return Err(unwritable(std::io::Error::from(
            std::io::ErrorKind::PermissionDenied,
        )));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp: PathBuf = dir.join(format!(".env.msctl-{}.tmp", std::process::id()));
    let mut content = current.bytes.clone();
    if !content.is_empty() && !content.ends_with(b"\n") {
        content.push(b'\n');
    }
    content.extend_from_slice(block.as_bytes());
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        let (mode, uid, gid) = match &current.meta {
            Some(m) => (m.mode() & 0o7777, m.uid(), m.gid()),
            None => {
                let d = std::fs::metadata(dir)?;
                (0o600, d.uid(), d.gid())
            }
        };
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        // Only root may give a file away; anyone else keeps it, which is what they would get.
        let _ = std::os::unix::fs::fchown(&file, Some(uid), Some(gid));
        file.write_all(&content)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // The rename itself is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        unwritable(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: SecretKind) -> SecretSpec {
        SecretSpec {
            name: name.into(),
            kind,
            public: None,
            show: false,
            with_volume: None,
        }
    }

    fn admin() -> SecretSpec {
        SecretSpec {
            show: true,
            with_volume: Some("users-db".into()),
            ..spec("ADMIN_PASSWORD", SecretKind::Password)
        }
    }

    fn signing() -> SecretSpec {
        SecretSpec {
            public: Some("VERIFY_KEY".into()),
            ..spec("SIGNING_KEY", SecretKind::Ed25519)
        }
    }

    fn run(
        dir: &Path,
        secrets: &[SecretSpec],
        env: &[(&str, &str)],
        existing: &[&str],
    ) -> Result<Outcome> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let existing = existing.iter().map(|v| v.to_string()).collect();
        ensure_in(dir, "shop", secrets, &env, &existing, false)
    }

    fn dotenv(dir: &Path) -> HashMap<String, String> {
        parse_dotenv(&std::fs::read_to_string(dir.join(".env")).unwrap())
    }

    #[test]
    fn passwords_are_24_letters_and_digits_with_one_of_each() {
        let rng = SystemRandom::new();
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            let p = password(&rng);
            assert_eq!(p.len(), PASSWORD_LEN);
            assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()), "{p}");
            assert!(p.bytes().any(|b| b.is_ascii_digit()), "{p}");
            assert!(p.bytes().any(|b| b.is_ascii_alphabetic()), "{p}");
            seen.insert(p);
        }
        assert_eq!(seen.len(), 200);
    }

    #[test]
    fn a_generated_pair_signs_and_verifies_with_jsonwebtoken_eddsa() {
        use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header};
        let pair = ed25519(&SystemRandom::new());
        assert!(pair.private.ends_with('='), "standard base64, padded");
        assert_eq!(pair.public.len(), 43, "32 bytes, base64url without padding");
        let der = STANDARD.decode(&pair.private).unwrap();
        let claims = serde_json::json!({"sub": "ada", "exp": 4_000_000_000u64});
        let token = encode(
            &Header::new(Algorithm::EdDSA),
            &claims,
            &EncodingKey::from_ed_der(&der),
        )
        .unwrap();
        let key = DecodingKey::from_ed_components(&pair.public).unwrap();
        let decoded = decode::<serde_json::Value>(
            &token,
            &key,
            &jsonwebtoken::Validation::new(Algorithm::EdDSA),
        )
        .unwrap();
        assert_eq!(decoded.claims["sub"], "ada");
        // And another pair's public key does not verify it.
        let other = ed25519(&SystemRandom::new());
        let wrong = DecodingKey::from_ed_components(&other.public).unwrap();
        assert!(decode::<serde_json::Value>(
            &token,
            &wrong,
            &jsonwebtoken::Validation::new(Algorithm::EdDSA)
        )
        .is_err());
        assert_eq!(public_of(&pair.private).unwrap(), pair.public);
    }

    #[test]
    fn a_new_env_file_is_0600_and_gets_every_missing_secret_once() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(dir.path(), &[admin(), signing()], &[], &[]).unwrap();
        assert_eq!(out.written, ["ADMIN_PASSWORD", "SIGNING_KEY", "VERIFY_KEY"]);
        let meta = std::fs::metadata(dir.path().join(".env")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let vars = dotenv(dir.path());
        let shown = &out.notes[0];
        assert!(
            shown.starts_with(&format!(
                "msctl: generated ADMIN_PASSWORD={} (stored in ",
                vars["ADMIN_PASSWORD"]
            )),
            "{shown}"
        );
        assert_eq!(out.notes.len(), 1, "the key is not shown: {:?}", out.notes);
        assert_eq!(public_of(&vars["SIGNING_KEY"]).unwrap(), vars["VERIFY_KEY"]);
        let text = std::fs::read_to_string(dir.path().join(".env")).unwrap();
        assert!(text.starts_with("# generated by msctl up "), "{text}");

        // The second run finds them all and neither writes nor shows anything.
        let again = run(dir.path(), &[admin(), signing()], &[], &[]).unwrap();
        assert!(again.written.is_empty() && again.notes.is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".env")).unwrap(),
            text
        );
        assert!(
            std::fs::read_dir(dir.path()).unwrap().count() == 1,
            "no temporary file is left"
        );
    }

    #[test]
    fn the_users_lines_stay_as_they_are_and_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        let mine =
            "# my settings\nGATEWAY_PORT=8080\n\nexport  TAG = \"x\"  # odd but mine\nNO_NEWLINE=1";
        std::fs::write(&env, mine).unwrap();
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o640)).unwrap();
        run(dir.path(), &[admin()], &[], &[]).unwrap();
        let text = std::fs::read_to_string(&env).unwrap();
        assert!(
            text.starts_with(&format!("{mine}\n# generated by msctl up ")),
            "{text}"
        );
        assert_eq!(text.lines().count(), mine.lines().count() + 2);
        assert_eq!(
            std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn a_set_variable_is_never_generated_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        // In the process environment: .env is not even created.
        let out = run(
            dir.path(),
            &[admin()],
            &[("ADMIN_PASSWORD", "from-env-1")],
            &[],
        )
        .unwrap();
        assert!(out.written.is_empty() && out.notes.is_empty());
        assert!(!dir.path().join(".env").exists());
        // In .env, even empty: kept as the user wrote it.
        std::fs::write(dir.path().join(".env"), "ADMIN_PASSWORD=\n").unwrap();
        let out = run(dir.path(), &[admin()], &[], &[]).unwrap();
        assert!(out.written.is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".env")).unwrap(),
            "ADMIN_PASSWORD=\n"
        );
    }

    #[test]
    fn a_dry_run_names_what_would_be_generated_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let env = HashMap::new();
        let out = ensure_in(
            dir.path(),
            "shop",
            &[admin(), signing()],
            &env,
            &BTreeSet::new(),
            true,
        )
        .unwrap();
        assert_eq!(out.written, ["ADMIN_PASSWORD", "SIGNING_KEY", "VERIFY_KEY"]);
        assert!(
            out.notes.is_empty(),
            "no password is shown: {:?}",
            out.notes
        );
        assert!(!dir.path().join(".env").exists());
    }

    #[test]
    fn with_volume_generates_only_for_a_volume_that_does_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(dir.path(), &[admin(), signing()], &[], &["users-db"]).unwrap();
        assert_eq!(out.written, ["SIGNING_KEY", "VERIFY_KEY"]);
        assert_eq!(out.notes.len(), 1);
        assert!(
            out.notes[0].contains("ADMIN_PASSWORD is not set, and volume shop_users-db exists"),
            "{}",
            out.notes[0]
        );
        assert!(!dotenv(dir.path()).contains_key("ADMIN_PASSWORD"));
    }

    #[test]
    fn half_a_pair_is_completed_from_env_file_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pair = ed25519(&SystemRandom::new());
        // The private key in .env, the public one missing: derived, not a new pair.
        std::fs::write(
            dir.path().join(".env"),
            format!("SIGNING_KEY={}\n", pair.private),
        )
        .unwrap();
        let out = run(dir.path(), &[signing()], &[], &[]).unwrap();
        assert_eq!(out.written, ["VERIFY_KEY"]);
        assert_eq!(dotenv(dir.path())["VERIFY_KEY"], pair.public);

        // Only the public key: refused, nothing written.
        let dir = tempfile::tempdir().unwrap();
        let err = run(dir.path(), &[signing()], &[("VERIFY_KEY", "x")], &[]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .contains("VERIFY_KEY is set but SIGNING_KEY is not"),
            "{err}"
        );
        assert!(!dir.path().join(".env").exists());

        // The private key from the environment: msctl does not put a derived key in .env.
        let err = run(
            dir.path(),
            &[signing()],
            &[("SIGNING_KEY", &pair.private)],
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("set VERIFY_KEY there too"),
            "{err}"
        );

        // Not a key at all.
        std::fs::write(dir.path().join(".env"), "SIGNING_KEY=hello\n").unwrap();
        let err = run(dir.path(), &[signing()], &[], &[]).unwrap_err();
        assert!(err.to_string().contains("SIGNING_KEY in "), "{err}");
    }

    #[test]
    fn a_symlink_or_read_only_env_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real"), "A=1\n").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join(".env")).unwrap();
        let err = run(dir.path(), &[admin()], &[], &[]).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        // A link is read, though: when what it names sets everything, nothing is to be written.
        std::fs::write(dir.path().join("real"), "ADMIN_PASSWORD=mine-12345\n").unwrap();
        assert!(run(dir.path(), &[admin()], &[], &[])
            .unwrap()
            .written
            .is_empty());

        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        std::fs::write(&env, "A=1\n").unwrap();
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o400)).unwrap();
        let err = run(dir.path(), &[admin()], &[], &[]).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("cannot write"), "{err}");
        assert_eq!(std::fs::read_to_string(&env).unwrap(), "A=1\n");
    }
}

//! The admin's credentials as the stack was given them: `msctl up` may have generated the
//! password into the project's `.env` (`secrets:` in msctl.yaml), so it is read from there.

use std::path::{Path, PathBuf};

/// The stack file's defaults (`${ADMIN_EMAIL:-…}`, `${ADMIN_PASSWORD:-…}`), which a stack whose
/// users-db volume predates `secrets:` still uses.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@shop.local";
pub const DEFAULT_ADMIN_PASSWORD: &str = "admin-password-1";

/// `ADMIN_EMAIL`: the environment, else the project's `.env`, else the default.
pub fn admin_email() -> String {
    stack_var("ADMIN_EMAIL", &project_dir()).unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.into())
}

/// `ADMIN_PASSWORD`: the environment, else the project's `.env`, else the default.
pub fn admin_password() -> String {
    stack_var("ADMIN_PASSWORD", &project_dir()).unwrap_or_else(|| DEFAULT_ADMIN_PASSWORD.into())
}

/// A variable as `msctl up` sees it: the process environment first, then `dir/.env`.
pub fn stack_var(name: &str, dir: &Path) -> Option<String> {
    if let Ok(v) = std::env::var(name) {
        return Some(v);
    }
    let text = std::fs::read_to_string(dir.join(".env")).ok()?;
    dotenv_value(&text, name)
}

/// Where the stack file is: `MSCTL_FILE`'s directory, else the current directory when it holds
/// an msctl.yaml, else this workspace (a binary run from elsewhere).
pub fn project_dir() -> PathBuf {
    if let Some(file) = std::env::var_os("MSCTL_FILE") {
        let parent = Path::new(&file).parent().map(Path::to_path_buf);
        return parent
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| ".".into());
    }
    if Path::new("msctl.yaml").exists() {
        return ".".into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| ".".into())
}

/// The last `NAME=value` of a `.env` text, read as msctl reads it (`export`, quotes, comments).
fn dotenv_value(text: &str, name: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line.split_once('=')?;
        if line.starts_with('#') || key.trim() != name {
            return None;
        }
        let value = value.trim();
        let quoted = value.len() >= 2
            && (value.starts_with('"') && value.ends_with('"')
                || value.starts_with('\'') && value.ends_with('\''));
        Some(match quoted {
            true => value[1..value.len() - 1].to_owned(),
            false => value
                .split(" #")
                .next()
                .unwrap_or(value)
                .trim_end()
                .to_owned(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_of_a_name_wins_and_comments_are_not_values() {
        let text = "# ADMIN_PASSWORD=nope\nADMIN_PASSWORD=first\nexport ADMIN_PASSWORD=\"second one\"\nOTHER=x # note\n";
        assert_eq!(dotenv_value(text, "ADMIN_PASSWORD").unwrap(), "second one");
        assert_eq!(dotenv_value(text, "OTHER").unwrap(), "x");
        assert_eq!(dotenv_value(text, "MISSING"), None);
    }

    #[test]
    fn a_variable_comes_from_dotenv_when_the_environment_lacks_it() {
        let dir = std::env::temp_dir().join(format!("loadtests-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env"), "LOADTESTS_TEST_ONLY_VAR=fromfile\n").unwrap();
        assert_eq!(
            stack_var("LOADTESTS_TEST_ONLY_VAR", &dir).as_deref(),
            Some("fromfile")
        );
        assert_eq!(stack_var("LOADTESTS_TEST_ONLY_MISSING", &dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

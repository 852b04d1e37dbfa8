//! Configuration from the environment. Every missing or invalid variable is collected, so a
//! misconfigured service says everything that is wrong in one message, then exits.

use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Env {
    problems: Vec<String>,
}

impl Env {
    pub fn new() -> Env {
        Env::default()
    }

    fn raw(&mut self, name: &str) -> Option<String> {
        match std::env::var(name) {
            Ok(v) => Some(v),
            Err(std::env::VarError::NotPresent) => None,
            Err(_) => {
                self.problems.push(format!("{name} is not valid UTF-8"));
                None
            }
        }
    }

    fn parse<T: FromStr>(&mut self, name: &str, value: String) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        match value.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.problems
                    .push(format!("{name}={value:?} is invalid: {e}"));
                None
            }
        }
    }

    /// A variable that must be set.
    pub fn required<T: FromStr>(&mut self, name: &str) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.raw(name) {
            Some(v) => self.parse(name, v),
            None => {
                self.problems
                    .push(format!("{name} is required but not set"));
                None
            }
        }
    }

    /// A variable with a default.
    pub fn or<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: std::fmt::Display,
    {
        match self.raw(name) {
            Some(v) => self.parse(name, v).unwrap_or(default),
            None => default,
        }
    }

    /// A secret: `NAME`, or the contents of the file `NAME_FILE` names (trailing newline trimmed).
    pub fn secret(&mut self, name: &str) -> Option<String> {
        if let Some(path) = self.raw(&format!("{name}_FILE")) {
            return match std::fs::read_to_string(&path) {
                Ok(v) => Some(v.trim_end_matches(['\n', '\r']).to_owned()),
                Err(e) => {
                    self.problems.push(format!("{name}_FILE={path}: {e}"));
                    None
                }
            };
        }
        self.raw(name)
    }

    /// A required secret: like [`Env::secret`], and reported as missing when neither `NAME` nor
    /// `NAME_FILE` is set (an unreadable file is reported by `secret` itself).
    pub fn required_secret(&mut self, name: &str) -> Option<String> {
        let has_file = self.raw(&format!("{name}_FILE")).is_some();
        match self.secret(name) {
            Some(value) => Some(value),
            None if has_file => None,
            None => self.required::<String>(name),
        }
    }

    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem() {
        std::env::set_var("KIT_TEST_PORT", "eighty");
        let mut env = Env::new();
        let _: Option<u16> = env.required("KIT_TEST_PORT");
        let _: Option<String> = env.required("KIT_TEST_MISSING");
        assert_eq!(env.or("KIT_TEST_ABSENT", 7u32), 7);
        let err = env.finish().unwrap_err().to_string();
        assert!(err.contains("KIT_TEST_PORT=\"eighty\" is invalid"), "{err}");
        assert!(err.contains("KIT_TEST_MISSING is required"), "{err}");
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = std::env::temp_dir().join(format!("kit-secret-{}", std::process::id()));
        std::fs::write(&dir, "s3cret\n").unwrap();
        std::env::set_var("KIT_TEST_SECRET_FILE", &dir);
        let mut env = Env::new();
        assert_eq!(env.secret("KIT_TEST_SECRET").as_deref(), Some("s3cret"));
        env.finish().unwrap();
        std::fs::remove_file(dir).unwrap();
    }
}

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

/// A boolean setting: `true/false`, `1/0`, `yes/no`, `on/off` (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl FromStr for Flag {
    type Err = String;
    fn from_str(s: &str) -> Result<Flag, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Flag(true)),
            "false" | "0" | "no" | "off" => Ok(Flag(false)),
            _ => Err("expected true or false".into()),
        }
    }
}

/// An integer setting within `MIN..=MAX`, so an out-of-range value is reported with the other
/// configuration problems instead of failing later (say, a queue TTL the broker rejects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded<const MIN: u64, const MAX: u64>(pub u64);

impl<const MIN: u64, const MAX: u64> FromStr for Bounded<MIN, MAX> {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().parse::<u64>() {
            Ok(n) if (MIN..=MAX).contains(&n) => Ok(Bounded(n)),
            _ => Err(format!("must be an integer from {MIN} to {MAX}")),
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
    fn flags_and_bounded_integers_parse_or_say_what_they_expect() {
        assert_eq!("Yes".parse::<Flag>(), Ok(Flag(true)));
        assert_eq!(" off ".parse::<Flag>(), Ok(Flag(false)));
        assert_eq!(
            "maybe".parse::<Flag>().unwrap_err(),
            "expected true or false"
        );
        assert_eq!("16".parse::<Bounded<1, 16>>(), Ok(Bounded(16)));
        assert_eq!(
            "17".parse::<Bounded<1, 16>>().unwrap_err(),
            "must be an integer from 1 to 16"
        );
        assert!("-1".parse::<Bounded<0, 9>>().is_err());
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

//! Input rules for accounts, shared by registration, updates and the admin bootstrap.
//!
//! - email: trimmed and lowercased; `local@domain`, at most 254 characters, a local part of 1 to
//!   64 characters (letters, digits and ``!#$%&'*+/=?^_`{|}~.-``, no leading, trailing or double
//!   dot), a domain of at least two dot-separated labels (letters, digits, inner hyphens, 1 to 63
//!   characters each) whose last label is not all digits.
//! - name: trimmed; 1 to 100 characters.
//! - password: 10 to 1024 characters with at least one letter and at least one digit (0-9).
//! - roles: a non-empty subset of `user` and `admin` that includes `user`.

use kit::FieldError;

pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 100;
pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 1024;
/// Every role there is, in the order tokens list them.
pub const ROLES: [&str; 2] = ["user", "admin"];

/// How an email is stored and compared.
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// The normalized email, or why it is not one.
pub fn email(raw: &str) -> Result<String, String> {
    let email = normalize_email(raw);
    if email.is_empty() {
        return Err("is required".into());
    }
    let invalid = || Err("must be an email address (local@domain.tld)".to_string());
    if email.chars().count() > EMAIL_MAX {
        return Err(format!("must be at most {EMAIL_MAX} characters"));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid();
    };
    let local_ok = (1..=64).contains(&local.chars().count())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.chars().count())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()));
    if local_ok && domain_ok {
        Ok(email)
    } else {
        invalid()
    }
}

/// The trimmed name, or why it is not acceptable.
pub fn name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > NAME_MAX {
        return Err(format!("must be at most {NAME_MAX} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(name.to_owned())
}

/// Why the password is too weak, if it is: every unmet part of the rule, in one message.
pub fn password(raw: &str) -> Result<(), String> {
    let length = raw.chars().count();
    if length > PASSWORD_MAX {
        return Err(format!("must be at most {PASSWORD_MAX} characters"));
    }
    let mut unmet = Vec::new();
    if length < PASSWORD_MIN {
        unmet.push(format!("be at least {PASSWORD_MIN} characters long"));
    }
    if !raw.chars().any(char::is_alphabetic) {
        unmet.push("contain a letter".to_string());
    }
    if !raw.chars().any(|c| c.is_ascii_digit()) {
        unmet.push("contain a digit".to_string());
    }
    if unmet.is_empty() {
        Ok(())
    } else {
        Err(format!("must {}", unmet.join(", ")))
    }
}

/// The roles in canonical order without duplicates, or why they are not acceptable.
pub fn roles(raw: &[String]) -> Result<Vec<String>, String> {
    if let Some(unknown) = raw.iter().find(|r| !ROLES.contains(&r.as_str())) {
        return Err(format!(
            "unknown role {unknown:?}; roles are {}",
            ROLES.join(", ")
        ));
    }
    if !raw.iter().any(|r| r == "user") {
        return Err("must include \"user\"".into());
    }
    Ok(ROLES
        .iter()
        .filter(|role| raw.iter().any(|r| r == *role))
        .map(|r| r.to_string())
        .collect())
}

/// Collects field errors: `check(field, result)` keeps the value or records the message.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.push(FieldError::new(field, message));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(email("  Alice@Example.COM ").unwrap(), "alice@example.com");
        assert_eq!(
            email("first.last+tag@mail.example.co.uk").unwrap(),
            "first.last+tag@mail.example.co.uk"
        );
        assert_eq!(email("").unwrap_err(), "is required");
        for bad in [
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "alice@@example.com",
            "a@b@example.com",
            "alice@exa mple.com",
            "al ice@example.com",
            ".alice@example.com",
            "al..ice@example.com",
            "alice@-example.com",
            "alice@example..com",
            "alice@127.0.0.1",
        ] {
            assert!(email(bad).is_err(), "{bad} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(email(&long).is_err());
    }

    #[test]
    fn password_rule_lists_every_unmet_part() {
        assert!(password("correct horse 1").is_ok());
        assert!(password("abcdefghi1").is_ok());
        assert_eq!(
            password("abc").unwrap_err(),
            "must be at least 10 characters long, contain a digit"
        );
        assert_eq!(password("1234567890").unwrap_err(), "must contain a letter");
        assert_eq!(
            password("").unwrap_err(),
            "must be at least 10 characters long, contain a letter, contain a digit"
        );
        assert!(password(&"a1".repeat(513)).is_err());
        // Characters, not bytes: nine letters in a multi-byte script plus a digit is ten.
        assert!(password("ééééééééé1").is_ok());
    }

    #[test]
    fn names_and_roles() {
        assert_eq!(name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(100)).is_ok());
        assert!(name(&"x".repeat(101)).is_err());
        let r = |v: &[&str]| roles(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(r(&["admin", "user", "admin"]).unwrap(), ["user", "admin"]);
        assert_eq!(r(&["user"]).unwrap(), ["user"]);
        assert!(r(&["admin"]).is_err());
        assert!(r(&[]).is_err());
        assert!(r(&["user", "root"]).is_err());
    }
}

//! `?page=&per_page=` of every listing: one parser, one wording, one bound, so a client that
//! pages through one service pages through all of them the same way.

use crate::FieldError;
use serde::Deserialize;
use utoipa::IntoParams;

pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 100;
/// The highest page accepted: it keeps `OFFSET` a sane number.
pub const MAX_PAGE: u32 = 1_000_000;

/// `?page=&per_page=` as a listing's query takes it: strings, so that a bad value is a 422
/// naming the field ([`Paging::parse`]) rather than a bare rejection.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

/// A checked page (from 1) and page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

impl Default for Paging {
    fn default() -> Paging {
        Paging {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl Paging {
    /// The raw query values, checked; each bad one is added to `errors` (and its default used,
    /// so the caller reports every problem of the request at once).
    pub fn parse(
        page: Option<&str>,
        per_page: Option<&str>,
        errors: &mut Vec<FieldError>,
    ) -> Paging {
        Paging {
            page: number(errors, "page", page, 1, MAX_PAGE),
            per_page: number(errors, "per_page", per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE),
        }
    }

    /// `LIMIT`.
    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    /// `OFFSET`.
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

fn number(
    errors: &mut Vec<FieldError>,
    field: &str,
    raw: Option<&str>,
    default: u32,
    max: u32,
) -> u32 {
    let Some(raw) = raw else {
        return default;
    };
    match raw.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => n,
        _ => {
            errors.push(FieldError::new(
                field,
                format!("must be an integer from 1 to {max}"),
            ));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bounds_and_every_problem_at_once() {
        let mut errors = Vec::new();
        assert_eq!(Paging::parse(None, None, &mut errors), Paging::default());
        let p = Paging::parse(Some(" 3 "), Some("7"), &mut errors);
        assert!(errors.is_empty());
        assert_eq!((p.limit(), p.offset()), (7, 14));
        Paging::parse(Some("0"), Some("101"), &mut errors);
        let fields: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("page", "must be an integer from 1 to 1000000"),
                ("per_page", "must be an integer from 1 to 100")
            ]
        );
    }
}

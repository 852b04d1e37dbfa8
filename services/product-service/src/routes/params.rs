//! Query-string parameters of the list and search routes. Parsed by hand from the raw pairs so
//! that every bad value is a 422 problem naming the parameter (never a 400 text body or a 500),
//! and every problem is reported at once.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kit::{FieldError, Problem};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};

pub use kit::paging::{Paging, DEFAULT_PER_PAGE, MAX_PER_PAGE};

pub const MAX_QUERY_CHARS: usize = 256;

/// A decimal in plain notation: digits, optionally a `.` and more digits, optionally a leading
/// `-` (no exponent, `+`, spaces or bare `.`). `None` for anything else.
pub fn plain_decimal(text: &str) -> Option<Decimal> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) if !f.is_empty() => (w, f),
        Some(_) => return None,
        None => (digits, ""),
    };
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !plain(whole) || !plain(fraction) {
        return None;
    }
    Decimal::from_str(text).ok()
}

/// Filters shared by listing and search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub category: Option<String>,
    pub tag: Option<String>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
pub enum Sort {
    #[serde(rename = "price")]
    PriceAsc,
    #[serde(rename = "-price")]
    PriceDesc,
    #[default]
    #[serde(rename = "name")]
    NameAsc,
    #[serde(rename = "-name")]
    NameDesc,
    #[serde(rename = "created_at")]
    CreatedAsc,
    #[serde(rename = "-created_at")]
    CreatedDesc,
}

impl Sort {
    const ALL: [(&'static str, Sort); 6] = [
        ("price", Sort::PriceAsc),
        ("-price", Sort::PriceDesc),
        ("name", Sort::NameAsc),
        ("-name", Sort::NameDesc),
        ("created_at", Sort::CreatedAsc),
        ("-created_at", Sort::CreatedDesc),
    ];

    /// The ORDER BY clause; `id` breaks ties so pages are stable.
    pub fn order_by(self) -> &'static str {
        match self {
            Sort::PriceAsc => "price ASC, id ASC",
            Sort::PriceDesc => "price DESC, id ASC",
            Sort::NameAsc => "name ASC, id ASC",
            Sort::NameDesc => "name DESC, id ASC",
            Sort::CreatedAsc => "created_at ASC, id ASC",
            Sort::CreatedDesc => "created_at DESC, id ASC",
        }
    }
}

/// `GET /products` parameters, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filters: Filters,
    pub paging: Paging,
    pub sort: Sort,
}

/// `GET /products/search` parameters, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub q: String,
    pub filters: Filters,
    pub paging: Paging,
}

/// The raw pairs, with the problems found so far.
struct Raw {
    values: HashMap<String, String>,
    errors: Vec<FieldError>,
}

impl Raw {
    fn new(pairs: Vec<(String, String)>) -> Raw {
        let mut values = HashMap::new();
        let mut errors = Vec::new();
        for (k, v) in pairs {
            match values.entry(k) {
                Entry::Vacant(slot) => {
                    slot.insert(v);
                }
                Entry::Occupied(slot) => {
                    if !errors.iter().any(|e: &FieldError| &e.field == slot.key()) {
                        errors.push(FieldError::new(slot.key().clone(), "given more than once"));
                    }
                }
            }
        }
        Raw { values, errors }
    }

    fn text(&mut self, name: &str) -> Option<String> {
        let v = self.values.get(name)?.trim().to_owned();
        if v.is_empty() {
            self.errors
                .push(FieldError::new(name, "must not be empty when given"));
            return None;
        }
        if v.chars().count() > MAX_QUERY_CHARS {
            self.errors.push(FieldError::new(
                name,
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
            return None;
        }
        Some(v)
    }

    fn price(&mut self, name: &str) -> Option<Decimal> {
        let v = self.values.get(name)?;
        match plain_decimal(v.trim()) {
            Some(d) if d >= Decimal::ZERO => Some(d),
            Some(_) => {
                self.errors
                    .push(FieldError::new(name, "must not be negative"));
                None
            }
            None => {
                self.errors.push(FieldError::new(
                    name,
                    "must be a decimal amount such as 19.99",
                ));
                None
            }
        }
    }

    fn filters(&mut self) -> Filters {
        let filters = Filters {
            category: self.text("category"),
            tag: self.text("tag"),
            min_price: self.price("min_price"),
            max_price: self.price("max_price"),
        };
        if let (Some(min), Some(max)) = (filters.min_price, filters.max_price) {
            if min > max {
                self.errors.push(FieldError::new(
                    "max_price",
                    "must not be less than min_price",
                ));
            }
        }
        filters
    }

    fn paging(&mut self) -> Paging {
        let page = self.values.get("page").map(String::as_str);
        let per_page = self.values.get("per_page").map(String::as_str);
        Paging::parse(page, per_page, &mut self.errors)
    }

    fn sort(&mut self) -> Sort {
        let Some(v) = self.values.get("sort") else {
            return Sort::default();
        };
        match Sort::ALL.iter().find(|(name, _)| *name == v.trim()) {
            Some((_, sort)) => *sort,
            None => {
                self.errors.push(FieldError::new(
                    "sort",
                    "must be one of price, -price, name, -name, created_at, -created_at",
                ));
                Sort::default()
            }
        }
    }

    fn finish<T>(self, value: T) -> Result<T, Problem> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            let mut p = Problem::validation(self.errors);
            p.detail = Some("one or more query parameters are invalid".into());
            Err(p)
        }
    }
}

impl ListQuery {
    pub fn parse(pairs: Vec<(String, String)>) -> Result<ListQuery, Problem> {
        let mut raw = Raw::new(pairs);
        let filters = raw.filters();
        let paging = raw.paging();
        let sort = raw.sort();
        raw.finish(ListQuery {
            filters,
            paging,
            sort,
        })
    }
}

impl SearchQuery {
    pub fn parse(pairs: Vec<(String, String)>) -> Result<SearchQuery, Problem> {
        let mut raw = Raw::new(pairs);
        let q = match raw.values.get("q").map(|q| q.trim()) {
            None | Some("") => {
                raw.errors
                    .push(FieldError::new("q", "a search text is required"));
                String::new()
            }
            Some(_) => raw.text("q").unwrap_or_default(),
        };
        let filters = raw.filters();
        let paging = raw.paging();
        raw.finish(SearchQuery { q, filters, paging })
    }
}

async fn pairs<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<Vec<(String, String)>, Problem> {
    let kit::Query(pairs) = kit::Query::from_request_parts(parts, state).await?;
    Ok(pairs)
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        ListQuery::parse(pairs(parts, state).await?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SearchQuery {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        SearchQuery::parse(pairs(parts, state).await?)
    }
}

/// Documentation of the `GET /products` query parameters (parsing is [`ListQuery::parse`]).
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only products of this category (exact match), e.g. `books`.
    category: Option<String>,
    /// Only products carrying this tag (exact match), e.g. `bluetooth`.
    tag: Option<String>,
    /// Lowest price, inclusive (decimal string).
    #[param(value_type = Option<String>, example = "10.00")]
    min_price: Option<Decimal>,
    /// Highest price, inclusive (decimal string); not below `min_price`.
    #[param(value_type = Option<String>, example = "50.00")]
    max_price: Option<Decimal>,
    /// Page number, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// Items per page, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    per_page: Option<u32>,
    /// Order: `price`, `-price`, `name` (default), `-name`, `created_at`, `-created_at`
    /// (`-` is descending).
    #[param(inline)]
    sort: Option<Sort>,
}

/// Documentation of the `GET /products/search` query parameters (parsing is
/// [`SearchQuery::parse`]).
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Search text in web-search syntax (`websearch_to_tsquery('english', q)`): words,
    /// `"quoted phrases"`, `or`, `-excluded`. Required, not blank, at most 256 characters.
    #[param(required = true)]
    q: String,
    /// Only products of this category (exact match).
    category: Option<String>,
    /// Only products carrying this tag (exact match).
    tag: Option<String>,
    /// Lowest price, inclusive (decimal string).
    #[param(value_type = Option<String>, example = "10.00")]
    min_price: Option<Decimal>,
    /// Highest price, inclusive (decimal string).
    #[param(value_type = Option<String>, example = "50.00")]
    max_price: Option<Decimal>,
    /// Page number, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// Items per page, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    per_page: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let q = ListQuery::parse(vec![]).unwrap();
        assert_eq!(
            q.paging,
            Paging {
                page: 1,
                per_page: 20
            }
        );
        assert_eq!(q.sort, Sort::NameAsc);
        assert_eq!(q.filters, Filters::default());
    }

    #[test]
    fn every_bad_value_is_named() {
        let p = ListQuery::parse(pairs(&[
            ("page", "0"),
            ("per_page", "101"),
            ("min_price", "cheap"),
            ("max_price", "-1"),
            ("sort", "popularity"),
            ("category", " "),
        ]))
        .unwrap_err();
        let fields: Vec<&str> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(p.status, 422);
        for f in [
            "page",
            "per_page",
            "min_price",
            "max_price",
            "sort",
            "category",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
    }

    #[test]
    fn price_range_and_duplicates() {
        let p = ListQuery::parse(pairs(&[("min_price", "10"), ("max_price", "5")])).unwrap_err();
        assert_eq!(p.errors[0].field, "max_price");
        let p = ListQuery::parse(pairs(&[("page", "1"), ("page", "2")])).unwrap_err();
        assert_eq!(p.errors[0].field, "page");
        let q = ListQuery::parse(pairs(&[
            ("sort", "-price"),
            ("page", "3"),
            ("per_page", "7"),
        ]))
        .unwrap();
        assert_eq!(q.sort, Sort::PriceDesc);
        assert_eq!(q.paging.offset(), 14);
    }

    #[test]
    fn search_needs_text() {
        for q in [vec![], pairs(&[("q", "")]), pairs(&[("q", "   ")])] {
            let p = SearchQuery::parse(q).unwrap_err();
            assert_eq!(p.errors[0].field, "q");
        }
        let q = SearchQuery::parse(pairs(&[("q", " coffee ")])).unwrap();
        assert_eq!(q.q, "coffee");
    }
}

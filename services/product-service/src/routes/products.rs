//! The catalogue: listing with filters, full-text search, and the admin's create, replace and
//! delete.

use super::params::{ListQuery, SearchQuery};
use super::AppState;
use crate::store::{self, Product, SearchHit};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kit::extract::Resource;
use kit::identity::{Admin, IdentityHeaders};
use kit::{FieldError, Json, Problem, UuidPath};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_CATEGORY_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_IMAGES: usize = 20;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_STOCK: i64 = 1_000_000_000;
/// Fields of a product as read that a write ignores.
pub const READ_ONLY_FIELDS: [&str; 3] = ["id", "created_at", "updated_at"];

/// One page of products.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<Product>,
    pub page: u32,
    pub per_page: u32,
    /// Products matching the filters, over all pages.
    pub total: i64,
}

/// One page of search results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchHit>,
    pub page: u32,
    pub per_page: u32,
    /// Matching products, over all pages.
    pub total: i64,
}

/// A product as the admin writes it (`POST` creates, `PUT` replaces). The read-only `id`,
/// `created_at` and `updated_at` may be present (ignored); any other unknown field is a 422.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProductInput {
    /// Not blank, at most 200 characters.
    #[schema(example = "Cast Iron Skillet 26 cm")]
    pub name: String,
    /// Optional (default empty), at most 10000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Decimal string (a JSON number is accepted too): at least 0, at most two decimals,
    /// below 10000000000.
    #[schema(value_type = String, example = "34.90")]
    pub price: Decimal,
    /// Whole number from 0 to 1000000000.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub stock: i64,
    /// Not blank, at most 100 characters.
    #[schema(example = "kitchen")]
    pub category: String,
    /// At most 20 tags, each not blank and at most 50 characters.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// At most 20 `http(s)://` URLs.
    #[serde(default)]
    pub images: Option<Vec<String>>,
}

/// The body as received: every field loosely typed, so validation can report every wrong
/// field at once rather than the first one serde trips over.
#[derive(Debug, Default, Deserialize)]
pub struct ProductInputRaw {
    name: Option<Value>,
    description: Option<Value>,
    price: Option<Value>,
    stock: Option<Value>,
    category: Option<Value>,
    tags: Option<Value>,
    images: Option<Value>,
    /// Anything else: the read-only `id`, `created_at`, `updated_at` are ignored (so a product
    /// as read can be sent back); any other field is an error, so typos do not go unnoticed.
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// A validated product input.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price: Decimal,
    pub stock: i32,
    pub category: String,
    pub tags: Vec<String>,
    pub images: Vec<String>,
}

fn required_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<Value>,
    max: usize,
) -> String {
    match value {
        None => errors.push(FieldError::new(field, "is required")),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                errors.push(FieldError::new(field, "must not be blank"));
            } else if s.chars().count() > max {
                errors.push(FieldError::new(
                    field,
                    format!("must be at most {max} characters"),
                ));
            } else {
                return s.to_owned();
            }
        }
        Some(_) => errors.push(FieldError::new(field, "must be a string")),
    }
    String::new()
}

fn string_list(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<Value>,
    max_items: usize,
    check: impl Fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let items = match value {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push(FieldError::new(field, "must be an array of strings"));
            return Vec::new();
        }
    };
    if items.len() > max_items {
        errors.push(FieldError::new(
            field,
            format!("must have at most {max_items} entries"),
        ));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(s) => {
                let s = s.trim().to_owned();
                match check(&s) {
                    Ok(()) => out.push(s),
                    Err(message) => errors.push(FieldError::new(format!("{field}[{i}]"), message)),
                }
            }
            _ => errors.push(FieldError::new(format!("{field}[{i}]"), "must be a string")),
        }
    }
    out
}

/// Parses a money amount: a decimal string (or JSON number), ≥ 0, ≤ 2 decimals, fits
/// NUMERIC(12,2).
pub fn parse_price(value: &Value) -> Result<Decimal, &'static str> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err("must be a decimal string such as \"19.99\""),
    };
    let price =
        super::params::plain_decimal(&text).ok_or("must be a decimal string such as \"19.99\"")?;
    if price.is_sign_negative() && !price.is_zero() {
        return Err("must not be negative");
    }
    if price.normalize().scale() > 2 {
        return Err("must have at most 2 decimal places");
    }
    if price >= Decimal::from(10_000_000_000i64) {
        return Err("must be less than 10000000000");
    }
    Ok(price.abs())
}

impl ProductInputRaw {
    /// Every rule, every field: the whole list of problems, or the product.
    pub fn validate(self) -> Result<NewProduct, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = required_text(&mut errors, "name", self.name, MAX_NAME_CHARS);
        let category = required_text(&mut errors, "category", self.category, MAX_CATEGORY_CHARS);
        let description = match self.description {
            None => String::new(),
            Some(Value::String(s)) if s.chars().count() <= MAX_DESCRIPTION_CHARS => s,
            Some(Value::String(_)) => {
                errors.push(FieldError::new(
                    "description",
                    format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
                ));
                String::new()
            }
            Some(_) => {
                errors.push(FieldError::new("description", "must be a string"));
                String::new()
            }
        };
        let price = match self.price {
            None => {
                errors.push(FieldError::new("price", "is required"));
                Decimal::ZERO
            }
            Some(v) => parse_price(&v).unwrap_or_else(|message| {
                errors.push(FieldError::new("price", message));
                Decimal::ZERO
            }),
        };
        let stock = match self.stock {
            None => {
                errors.push(FieldError::new("stock", "is required"));
                0
            }
            Some(Value::Number(n)) => match n.as_i64() {
                Some(s) if (0..=MAX_STOCK).contains(&s) => s as i32,
                Some(s) if s < 0 => {
                    errors.push(FieldError::new("stock", "must not be negative"));
                    0
                }
                _ => {
                    errors.push(FieldError::new(
                        "stock",
                        format!("must be a whole number from 0 to {MAX_STOCK}"),
                    ));
                    0
                }
            },
            Some(_) => {
                errors.push(FieldError::new("stock", "must be a whole number"));
                0
            }
        };
        let tags = string_list(&mut errors, "tags", self.tags, MAX_TAGS, |t| {
            if t.is_empty() {
                Err("must not be blank".into())
            } else if t.chars().count() > MAX_TAG_CHARS {
                Err(format!("must be at most {MAX_TAG_CHARS} characters"))
            } else {
                Ok(())
            }
        });
        let images = string_list(&mut errors, "images", self.images, MAX_IMAGES, |u| {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() > "https://".len()
                && u.len() <= MAX_URL_CHARS
                && !u.chars().any(char::is_whitespace);
            if ok {
                Ok(())
            } else {
                Err("must be an http(s) URL".into())
            }
        });
        for field in self.other.keys() {
            if !READ_ONLY_FIELDS.contains(&field.as_str()) {
                errors.push(FieldError::new(field.clone(), "is not a product field"));
            }
        }
        if errors.is_empty() {
            Ok(NewProduct {
                name,
                description,
                price,
                stock,
                category,
                tags,
                images,
            })
        } else {
            Err(errors)
        }
    }
}

/// A product id in a path (`kit::UuidPath<Product>`): anything that is not a UUID names no
/// product (404).
impl Resource for Product {
    const NAME: &'static str = "product";
}

#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    #[error("no product {0}")]
    NotFound(Uuid),
    #[error("invalid product")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ProductError> for Problem {
    fn from(e: ProductError) -> Problem {
        match e {
            ProductError::NotFound(_) => Problem::not_found(e.to_string()),
            ProductError::Invalid(errors) => Problem::validation(errors),
            ProductError::Database(e) => Problem::internal(&e),
        }
    }
}

impl IntoResponse for ProductError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// List products, filtered, sorted and paginated.
#[utoipa::path(
    get,
    path = "/products",
    tag = "products",
    params(super::params::ListParams),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        (status = 422, description = "An invalid query parameter (named in `errors`)"),
    )
)]
pub async fn list_products(
    State(state): State<AppState>,
    query: ListQuery,
) -> Result<Json<ProductPage>, ProductError> {
    let (items, total) = store::list(
        &state.pool,
        &query.filters,
        query.paging,
        query.sort.order_by(),
    )
    .await?;
    Ok(Json(ProductPage {
        items,
        page: query.paging.page,
        per_page: query.paging.per_page,
        total,
    }))
}

/// Full-text search over name (weighs most), tags and category, and description, ranked by
/// relevance.
#[utoipa::path(
    get,
    path = "/products/search",
    tag = "products",
    params(super::params::SearchParams),
    responses(
        (status = 200, description = "A page of matches, most relevant first", body = SearchPage),
        (status = 422, description = "Missing or blank `q`, or another invalid parameter"),
    )
)]
pub async fn search_products(
    State(state): State<AppState>,
    query: SearchQuery,
) -> Result<Json<SearchPage>, ProductError> {
    let (items, total) = store::search(&state.pool, &query.q, &query.filters, query.paging).await?;
    Ok(Json(SearchPage {
        items,
        page: query.paging.page,
        per_page: query.paging.per_page,
        total,
    }))
}

/// One product.
#[utoipa::path(
    get,
    path = "/products/{id}",
    tag = "products",
    params(("id" = Uuid, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such product (or the id is not a UUID)"),
    )
)]
pub async fn get_product(
    State(state): State<AppState>,
    UuidPath(id, _): UuidPath<Product>,
) -> Result<Json<Product>, ProductError> {
    store::find(&state.pool, id)
        .await?
        .map(Json)
        .ok_or(ProductError::NotFound(id))
}

/// Create a product (admin only).
#[utoipa::path(
    post,
    path = "/products",
    tag = "products",
    params(
        IdentityHeaders,
    ),
    request_body = ProductInput,
    responses(
        (status = 201, description = "Created; `Location` is the product's URL", body = Product,
            headers(("location" = String, description = "/products/{id}"))),
        (status = 400, description = "Malformed JSON"),
        (status = 401, description = "No identity"),
        (status = 403, description = "Not an admin"),
        (status = 415, description = "Body is not JSON"),
        (status = 422, description = "Invalid fields, all listed in `errors`"),
    )
)]
pub async fn create_product(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Json(raw): Json<ProductInputRaw>,
) -> Result<Response, ProductError> {
    let p = raw.validate().map_err(ProductError::Invalid)?;
    let product = store::insert(&state.pool, &p).await?;
    tracing::info!(product_id = %product.id, admin = %admin.user_id, "product created");
    let location = format!("/products/{}", product.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(product),
    )
        .into_response())
}

/// Replace a product (admin only). Every field is written, as in create; `stock` sets the
/// available units directly.
#[utoipa::path(
    put,
    path = "/products/{id}",
    tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        IdentityHeaders,
    ),
    request_body = ProductInput,
    responses(
        (status = 200, description = "The updated product", body = Product),
        (status = 400, description = "Malformed JSON"),
        (status = 401, description = "No identity"),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such product"),
        (status = 422, description = "Invalid fields, all listed in `errors`"),
    )
)]
pub async fn update_product(
    State(state): State<AppState>,
    Admin(admin): Admin,
    UuidPath(id, _): UuidPath<Product>,
    Json(raw): Json<ProductInputRaw>,
) -> Result<Json<Product>, ProductError> {
    let p = raw.validate().map_err(ProductError::Invalid)?;
    let product = store::replace(&state.pool, id, &p)
        .await?
        .ok_or(ProductError::NotFound(id))?;
    tracing::info!(product_id = %id, admin = %admin.user_id, "product updated");
    Ok(Json(product))
}

/// Delete a product (admin only). Existing stock reservations keep their record of it.
#[utoipa::path(
    delete,
    path = "/products/{id}",
    tag = "products",
    params(
        ("id" = Uuid, Path, description = "Product id"),
        IdentityHeaders,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No identity"),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such product"),
    )
)]
pub async fn delete_product(
    State(state): State<AppState>,
    Admin(admin): Admin,
    UuidPath(id, _): UuidPath<Product>,
) -> Result<StatusCode, ProductError> {
    let deleted = store::delete(&state.pool, id).await?;
    if !deleted {
        return Err(ProductError::NotFound(id));
    }
    tracing::info!(product_id = %id, admin = %admin.user_id, "product deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> ProductInputRaw {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn valid_input() {
        let p = raw(
            json!({"name": " Mug ", "price": "4.5", "stock": 3, "category": "kitchen",
                           "tags": ["cup"], "images": ["https://x.example/m.jpg"]}),
        )
        .validate()
        .unwrap();
        assert_eq!(p.name, "Mug");
        assert_eq!(p.price.to_string(), "4.5");
        assert_eq!(p.description, "");
        let p = raw(json!({"name": "Mug", "price": 19.99, "stock": 0, "category": "k"}))
            .validate()
            .unwrap();
        assert_eq!(p.price.to_string(), "19.99");
    }

    #[test]
    fn lists_every_bad_field() {
        let errors = raw(
            json!({"name": "", "price": "1.999", "stock": -1, "category": 5,
                                "tags": ["ok", ""], "images": ["ftp://x"]}),
        )
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "category", "price", "stock", "tags[1]", "images[0]"]
        );
        let errors = raw(
            json!({"name": "n", "price": "1", "stock": 1, "category": "c",
                                "id": "x", "created_at": 1, "colour": "red"}),
        )
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["colour"]);
        let errors = raw(json!({})).validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "category", "price", "stock"]);
    }

    #[test]
    fn prices() {
        for ok in ["0", "0.00", "19.99", "19.990", "9999999999.99"] {
            assert!(parse_price(&json!(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "-0.01",
            "1.001",
            "abc",
            "",
            "10000000000",
            "1e3",
            "+1",
            " 1",
            "1.",
            ".5",
            "1.2.3",
        ] {
            assert!(parse_price(&json!(bad)).is_err(), "{bad}");
        }
        assert!(parse_price(&json!(true)).is_err());
        assert!(parse_price(&json!(-1)).is_err());
    }
}

//! The catalogue table: products as stored and served, and every query the catalogue API makes
//! on them. Elsewhere: stock reservations, whose transactions span products and reservations,
//! in [`crate::reservations`]; the demo catalogue's one-off load in [`crate::seed`]; contract
//! verification's set-up in [`crate::provider_states`].

use crate::routes::params::{Filters, Paging};
use crate::routes::products::NewProduct;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

/// The columns of [`Product`] (not the generated search document).
pub const COLUMNS: &str =
    "id, name, description, price, stock, category, tags, images, created_at, updated_at";

/// A product of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// Money as a decimal string with two decimals.
    #[schema(value_type = String, example = "19.99")]
    pub price: Decimal,
    /// Units available to reserve; never negative.
    #[schema(minimum = 0)]
    pub stock: i32,
    pub category: String,
    pub tags: Vec<String>,
    /// Image URLs.
    pub images: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A search result: the product and its relevance.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub product: Product,
    /// `ts_rank` of the product's search document for the query; results are ordered by it,
    /// highest first.
    pub rank: f32,
}

fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, f: &Filters) {
    if let Some(category) = &f.category {
        qb.push(" AND category = ").push_bind(category.clone());
    }
    if let Some(tag) = &f.tag {
        qb.push(" AND tags @> ARRAY[")
            .push_bind(tag.clone())
            .push("]::text[]");
    }
    if let Some(min) = f.min_price {
        qb.push(" AND price >= ").push_bind(min);
    }
    if let Some(max) = f.max_price {
        qb.push(" AND price <= ").push_bind(max);
    }
}

pub async fn list(
    pool: &PgPool,
    filters: &Filters,
    paging: Paging,
    order_by: &str,
) -> Result<(Vec<Product>, i64), sqlx::Error> {
    let mut count = QueryBuilder::new("SELECT count(*) FROM products WHERE true");
    push_filters(&mut count, filters);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM products WHERE true"));
    push_filters(&mut qb, filters);
    qb.push(" ORDER BY ")
        .push(order_by)
        .push(" LIMIT ")
        .push_bind(paging.limit())
        .push(" OFFSET ")
        .push_bind(paging.offset());
    let items = qb.build_query_as::<Product>().fetch_all(pool).await?;
    Ok((items, total))
}

pub async fn search(
    pool: &PgPool,
    q: &str,
    filters: &Filters,
    paging: Paging,
) -> Result<(Vec<SearchHit>, i64), sqlx::Error> {
    let from = " FROM products, websearch_to_tsquery('english', ";
    let mut count = QueryBuilder::new("SELECT count(*)");
    count
        .push(from)
        .push_bind(q.to_owned())
        .push(") AS query WHERE search @@ query");
    push_filters(&mut count, filters);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS}, ts_rank(search, query) AS rank"));
    qb.push(from)
        .push_bind(q.to_owned())
        .push(") AS query WHERE search @@ query");
    push_filters(&mut qb, filters);
    qb.push(" ORDER BY rank DESC, name ASC, id ASC LIMIT ")
        .push_bind(paging.limit())
        .push(" OFFSET ")
        .push_bind(paging.offset());
    let items = qb.build_query_as::<SearchHit>().fetch_all(pool).await?;
    Ok((items, total))
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as::<_, Product>(&format!("SELECT {COLUMNS} FROM products WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Creates the product.
pub async fn insert(pool: &PgPool, p: &NewProduct) -> Result<Product, sqlx::Error> {
    sqlx::query_as::<_, Product>(&format!(
        "INSERT INTO products (id, name, description, price, stock, category, tags, images)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.price)
    .bind(p.stock)
    .bind(&p.category)
    .bind(&p.tags)
    .bind(&p.images)
    .fetch_one(pool)
    .await
}

/// Writes every field of product `id`; `None` when there is no such product.
pub async fn replace(
    pool: &PgPool,
    id: Uuid,
    p: &NewProduct,
) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as::<_, Product>(&format!(
        "UPDATE products SET name = $2, description = $3, price = $4, stock = $5,
                category = $6, tags = $7, images = $8, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.price)
    .bind(p.stock)
    .bind(&p.category)
    .bind(&p.tags)
    .bind(&p.images)
    .fetch_optional(pool)
    .await
}

/// Deletes product `id`; false when there was none.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM products WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(deleted > 0)
}

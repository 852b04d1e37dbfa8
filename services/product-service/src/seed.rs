//! The demo catalogue: 60 products in six categories, embedded in the binary (deterministic ids
//! and contents), loaded at first start when the catalogue is empty.

use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

/// The catalogue file, `seed/catalogue.json`.
pub const CATALOGUE_JSON: &str = include_str!("../seed/catalogue.json");

/// Serialises concurrent first starts (several replicas on one database).
const ADVISORY_LOCK_KEY: i64 = 0x5052_4f44_5345_4544; // "PRODSEED"

#[derive(Debug, Clone, Deserialize)]
pub struct SeedProduct {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub price: Decimal,
    pub stock: i32,
    pub category: String,
    pub tags: Vec<String>,
    pub images: Vec<String>,
}

pub fn catalogue() -> Vec<SeedProduct> {
    serde_json::from_str(CATALOGUE_JSON).expect("seed/catalogue.json is valid (unit-tested)")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOutcome {
    /// Loaded this many products.
    Loaded(usize),
    /// The catalogue already had products at first start; left alone.
    SkippedNotEmpty,
    /// Decided at an earlier start.
    AlreadyDone,
}

/// Loads the demo catalogue once: at the first start that finds no decision recorded, and only
/// if the catalogue is empty then. The decision is recorded, so a catalogue the admin emptied
/// later is not refilled on restart.
pub async fn seed_demo_catalogue(pool: &PgPool) -> Result<SeedOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ADVISORY_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    let done: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM demo_seed)")
        .fetch_one(&mut *tx)
        .await?;
    if done {
        return Ok(SeedOutcome::AlreadyDone);
    }
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&mut *tx)
        .await?;
    let outcome = if existing > 0 {
        SeedOutcome::SkippedNotEmpty
    } else {
        let products = catalogue();
        for p in &products {
            sqlx::query(
                "INSERT INTO products (id, name, description, price, stock, category, tags, images)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
            )
            .bind(p.id)
            .bind(&p.name)
            .bind(&p.description)
            .bind(p.price)
            .bind(p.stock)
            .bind(&p.category)
            .bind(&p.tags)
            .bind(&p.images)
            .execute(&mut *tx)
            .await?;
        }
        SeedOutcome::Loaded(products.len())
    };
    let loaded = match outcome {
        SeedOutcome::Loaded(n) => n as i32,
        _ => 0,
    };
    sqlx::query("INSERT INTO demo_seed (products) VALUES ($1)")
        .bind(loaded)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_is_valid_and_varied() {
        let products = catalogue();
        assert!(products.len() >= 50, "{}", products.len());
        let categories: HashSet<&str> = products.iter().map(|p| p.category.as_str()).collect();
        assert!(categories.len() >= 4, "{categories:?}");
        let ids: HashSet<Uuid> = products.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), products.len(), "ids are unique");
        // Every seed product passes the same validation as the admin's input.
        let raw: Vec<serde_json::Value> = serde_json::from_str(CATALOGUE_JSON).unwrap();
        for (p, v) in products.iter().zip(raw) {
            let input: crate::routes::products::ProductInputRaw =
                serde_json::from_value(v).unwrap();
            let valid = input
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e:?}", p.name));
            assert_eq!(valid.price, p.price);
            assert!(p.stock > 0, "{}", p.name);
            assert!(
                !p.tags.is_empty() && !p.description.is_empty(),
                "{}",
                p.name
            );
        }
    }
}

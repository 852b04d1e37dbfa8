{% if db %}
//! Items: `GET {{ route }}` lists them (paged, newest first), `POST {{ route }}` creates one,
//! `GET`, `PUT` (replace) and `DELETE {{ route }}/{id}` read, replace and delete one.
//!
{% if access == "public" %}
//! Access: public. The gateway lets anyone through, and the handlers ask for no identity.
{% elif access == "admin" %}
//! Access: admins. The gateway lets only admins through; the writes also check the gateway's
//! identity token here ([`Admin`]: none → 401, not an admin → 403), so a caller on the
//! private network cannot write without one. Reads trust the network, like payment-service.
{% else %}
//! Access: signed-in users. The gateway lets only valid tokens through; the writes also check
//! the gateway's identity token here ([`Identity`]: none → 401), so a caller on the private
//! network cannot write without one. Reads trust the network, like payment-service.
{% endif %}
//!
//! Every error is a problem (`application/problem+json`): a body that is not JSON 415, broken
//! JSON 400, invalid fields 422 (every bad field listed in `errors`), an unknown id (or one that
//! is not a UUID) 404, a query string that does not fit 400 (kit's extractors).

use super::AppState;
{% if publishes %}
use crate::events;
{% endif %}
use crate::store::{self, Item, NewItem};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
{% if access == "admin" %}
use kit::identity::{Admin, IdentityHeaders};
{% elif access == "user" %}
use kit::identity::{Identity, IdentityHeaders};
{% endif %}
use kit::paging::{PageQuery, Paging};
use kit::extract::Resource;
use kit::{FieldError, Json, Problem, Query, UuidPath};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Fields of an item as read that a write ignores (so an item as read can be sent back).
pub const READ_ONLY_FIELDS: [&str; 3] = ["id", "created_at", "updated_at"];

/// One page of items, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub page: u32,
    pub per_page: u32,
    /// Items in all pages.
    pub total: i64,
}

/// An item as written (`POST` creates, `PUT` replaces). The read-only `id`, `created_at` and
/// `updated_at` may be present (ignored); any other unknown field is a 422.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ItemInput {
    /// Not blank, at most 200 characters (trimmed).
    #[schema(example = "My first item")]
    pub name: String,
    /// Optional (default empty), at most 2000 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// The body as received, loosely typed, so validation reports every bad field at once.
#[derive(Debug, Default, Deserialize)]
pub struct ItemInputRaw {
    name: Option<Value>,
    description: Option<Value>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

impl ItemInputRaw {
    /// Every rule, every field: the whole list of problems, or the item to write.
    pub fn validate(self) -> Result<NewItem, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = match self.name {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("name", "is required"));
                String::new()
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    errors.push(FieldError::new("name", "must not be blank"));
                } else if s.chars().count() > MAX_NAME_CHARS {
                    errors.push(FieldError::new(
                        "name",
                        format!("must be at most {MAX_NAME_CHARS} characters"),
                    ));
                }
                s.to_owned()
            }
            Some(_) => {
                errors.push(FieldError::new("name", "must be a string"));
                String::new()
            }
        };
        let description = match self.description {
            None | Some(Value::Null) => String::new(),
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
        for field in self.other.keys() {
            if !READ_ONLY_FIELDS.contains(&field.as_str()) {
                errors.push(FieldError::new(field.clone(), "is not an item field"));
            }
        }
        if errors.is_empty() {
            Ok(NewItem { name, description })
        } else {
            Err(errors)
        }
    }
}

/// An item id in a path (`kit::UuidPath<Item>`): anything that is not a UUID names no item
/// (404).
impl Resource for Item {
    const NAME: &'static str = "item";
}

#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    #[error("no item {0}")]
    NotFound(Uuid),
    #[error("invalid item")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ItemError> for Problem {
    fn from(e: ItemError) -> Problem {
        match e {
            ItemError::NotFound(_) => Problem::not_found(e.to_string()),
            ItemError::Invalid(errors) => Problem::validation(errors),
            ItemError::Database(e) => Problem::internal(&e),
        }
    }
}

impl IntoResponse for ItemError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// List items, newest first
#[utoipa::path(
    get,
    path = "{{ route }}",
    tag = "items",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of items, newest first", body = ItemPage),
        (status = 422, description = "Bad page or per_page"),
    )
)]
pub async fn list_items(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<ItemPage>, ItemError> {
    let mut errors = Vec::new();
    let paging = Paging::parse(
        query.page.as_deref(),
        query.per_page.as_deref(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ItemError::Invalid(errors));
    }
    let (items, total) = store::list(&state.pool, paging.limit(), paging.offset()).await?;
    Ok(Json(ItemPage {
        items,
        page: paging.page,
        per_page: paging.per_page,
        total,
    }))
}

/// One item
#[utoipa::path(
    get,
    path = "{{ route }}/{id}",
    tag = "items",
    params(("id" = Uuid, Path, description = "Item id")),
    responses(
        (status = 200, description = "The item", body = Item),
        (status = 404, description = "No such item (or the id is not a UUID)"),
    )
)]
pub async fn get_item(
    State(state): State<AppState>,
    UuidPath(id, _): UuidPath<Item>,
) -> Result<Json<Item>, ItemError> {
    store::find(&state.pool, id)
        .await?
        .map(Json)
        .ok_or(ItemError::NotFound(id))
}

/// Create an item
#[utoipa::path(
    post,
    path = "{{ route }}",
    tag = "items",
{% if access != "public" %}
    params(IdentityHeaders),
{% endif %}
    request_body = ItemInput,
    responses(
        (status = 201, description = "Created; `Location` is the item's URL", body = Item,
            headers(("location" = String, description = "{{ route }}/{id}"))),
        (status = 400, description = "Malformed JSON"),
{% if access != "public" %}
        (status = 401, description = "No (valid) x-identity token"),
{% endif %}
{% if access == "admin" %}
        (status = 403, description = "The caller is not an admin"),
{% endif %}
        (status = 415, description = "Body is not JSON"),
        (status = 422, description = "Invalid fields, all listed in `errors`"),
    )
)]
pub async fn create_item(
    State(state): State<AppState>,
{% if access == "admin" %}
    Admin(caller): Admin,
{% elif access == "user" %}
    caller: Identity,
{% endif %}
    Json(raw): Json<ItemInputRaw>,
) -> Result<Response, ItemError> {
    let new = raw.validate().map_err(ItemError::Invalid)?;
    // One transaction: {% if publishes %}the item and its `{{ publishes[0] }}` event (the outbox) commit together{% else %}put the rest of a create here (and an outbox event, kit::outbox){% endif %}.
    let mut tx = state.pool.begin().await?;
    let item = store::insert(&mut tx, &new).await?;
{% if publishes %}
    kit::outbox::enqueue(&mut tx, &events::created(&item)).await?;
{% endif %}
    tx.commit().await?;
{% if publishes %}
    state.outbox.notify_one();
{% endif %}
{% if access == "public" %}
    tracing::info!(item_id = %item.id, "item created");
{% else %}
    tracing::info!(item_id = %item.id, by = %caller.user_id, "item created");
{% endif %}
    let location = format!("{{ route }}/{}", item.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(item),
    )
        .into_response())
}

/// Replace an item
#[utoipa::path(
    put,
    path = "{{ route }}/{id}",
    tag = "items",
    params(
        ("id" = Uuid, Path, description = "Item id"),
{% if access != "public" %}
        IdentityHeaders,
{% endif %}
    ),
    request_body = ItemInput,
    responses(
        (status = 200, description = "The replaced item", body = Item),
        (status = 400, description = "Malformed JSON"),
{% if access != "public" %}
        (status = 401, description = "No (valid) x-identity token"),
{% endif %}
{% if access == "admin" %}
        (status = 403, description = "The caller is not an admin"),
{% endif %}
        (status = 404, description = "No such item"),
        (status = 415, description = "Body is not JSON"),
        (status = 422, description = "Invalid fields, all listed in `errors`"),
    )
)]
pub async fn update_item(
    State(state): State<AppState>,
{% if access == "admin" %}
    Admin(caller): Admin,
{% elif access == "user" %}
    caller: Identity,
{% endif %}
    UuidPath(id, _): UuidPath<Item>,
    Json(raw): Json<ItemInputRaw>,
) -> Result<Json<Item>, ItemError> {
    let new = raw.validate().map_err(ItemError::Invalid)?;
    let item = store::replace(&state.pool, id, &new)
        .await?
        .ok_or(ItemError::NotFound(id))?;
{% if access == "public" %}
    tracing::info!(item_id = %id, "item replaced");
{% else %}
    tracing::info!(item_id = %id, by = %caller.user_id, "item replaced");
{% endif %}
    Ok(Json(item))
}

/// Delete an item
#[utoipa::path(
    delete,
    path = "{{ route }}/{id}",
    tag = "items",
    params(
        ("id" = Uuid, Path, description = "Item id"),
{% if access != "public" %}
        IdentityHeaders,
{% endif %}
    ),
    responses(
        (status = 204, description = "Deleted"),
{% if access != "public" %}
        (status = 401, description = "No (valid) x-identity token"),
{% endif %}
{% if access == "admin" %}
        (status = 403, description = "The caller is not an admin"),
{% endif %}
        (status = 404, description = "No such item"),
    )
)]
pub async fn delete_item(
    State(state): State<AppState>,
{% if access == "admin" %}
    Admin(caller): Admin,
{% elif access == "user" %}
    caller: Identity,
{% endif %}
    UuidPath(id, _): UuidPath<Item>,
) -> Result<StatusCode, ItemError> {
    if !store::delete(&state.pool, id).await? {
        return Err(ItemError::NotFound(id));
    }
{% if access == "public" %}
    tracing::info!(item_id = %id, "item deleted");
{% else %}
    tracing::info!(item_id = %id, by = %caller.user_id, "item deleted");
{% endif %}
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> ItemInputRaw {
        serde_json::from_value(v).unwrap()
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_valid_item_is_trimmed() {
        let item = raw(json!({"name": "  Mug ", "id": "ignored", "created_at": 1}))
            .validate()
            .unwrap();
        assert_eq!(
            item,
            NewItem {
                name: "Mug".into(),
                description: String::new()
            }
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        let errors = raw(json!({"name": " ", "description": long, "colour": "red"}))
            .validate()
            .unwrap_err();
        assert_eq!(fields(&errors), ["name", "description", "colour"]);
        let errors = raw(json!({"name": 7, "description": false}))
            .validate()
            .unwrap_err();
        assert_eq!(fields(&errors), ["name", "description"]);
        let errors = raw(json!({})).validate().unwrap_err();
        assert_eq!(fields(&errors), ["name"]);
        let name = "x".repeat(MAX_NAME_CHARS + 1);
        let errors = raw(json!({ "name": name })).validate().unwrap_err();
        assert_eq!(fields(&errors), ["name"]);
    }
}
{% endif %}

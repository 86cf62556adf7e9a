//! The Backend API routes FakeClerk serves, each checking its input as Clerk's reference
//! documents it. Authentication, faults and the request log are handled around them (see
//! `server`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::body::{JsonBody, check_password};
use crate::clerk_error::ClerkError;
use crate::error::FakeClerkError;
use crate::instance::{InvitationRefusal, MetadataPatch, NewInvitation, NewUser, ProfileChange};
use crate::list::ListParams;
use crate::server::Shared;

type Fake = State<Arc<Shared>>;

/// `POST /v1/users` parameters (API version 2026-05-12).
const CREATE_USER_PARAMS: &[&str] = &[
    "external_id",
    "first_name",
    "last_name",
    "locale",
    "email_address",
    "email_address_identification_status",
    "phone_number",
    "phone_number_identification_status",
    "web3_wallet",
    "username",
    "password",
    "password_digest",
    "password_hasher",
    "skip_password_checks",
    "skip_password_requirement",
    "totp_secret",
    "backup_codes",
    "public_metadata",
    "private_metadata",
    "unsafe_metadata",
    "delete_self_enabled",
    "legal_accepted_at",
    "skip_legal_checks",
    "skip_user_requirement",
    "create_organization_enabled",
    "create_organizations_limit",
    "created_at",
    "bypass_client_trust",
    "banned",
    "locked",
];

/// `PATCH /v1/users/{id}` parameters: no metadata since 2026-05-12.
const UPDATE_USER_PARAMS: &[&str] = &[
    "external_id",
    "first_name",
    "last_name",
    "locale",
    "primary_email_address_id",
    "notify_primary_email_address_changed",
    "primary_phone_number_id",
    "primary_web3_wallet_id",
    "username",
    "profile_image_id",
    "password",
    "password_digest",
    "password_hasher",
    "skip_password_checks",
    "sign_out_of_other_sessions",
    "totp_secret",
    "backup_codes",
    "delete_self_enabled",
    "create_organization_enabled",
    "legal_accepted_at",
    "skip_legal_checks",
    "create_organizations_limit",
    "created_at",
    "bypass_client_trust",
];

const METADATA_PARAMS: &[&str] = &["public_metadata", "private_metadata", "unsafe_metadata"];

const CREATE_INVITATION_PARAMS: &[&str] = &[
    "email_address",
    "public_metadata",
    "redirect_url",
    "notify",
    "ignore_existing",
    "expires_in_days",
    "template_slug",
];

/// Serializes an answer while the instance is locked (the views borrow it).
fn json_answer<T: Serialize + ?Sized>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            bytes,
        )
            .into_response(),
        Err(_) => ClerkError::server(StatusCode::INTERNAL_SERVER_ERROR).into_response(),
    }
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn query_pairs(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ClerkError> {
    query.map(|Query(pairs)| pairs).map_err(|_| {
        ClerkError::new(
            StatusCode::BAD_REQUEST,
            "malformed_query",
            "Malformed query string",
            "The query string could not be parsed.",
        )
    })
}

impl From<FakeClerkError> for ClerkError {
    fn from(error: FakeClerkError) -> Self {
        match error {
            FakeClerkError::IdentifierTaken { param } => ClerkError::identifier_exists(param),
            FakeClerkError::InvalidEmail => ClerkError::format_invalid(
                "email_address",
                "email_address must be a valid email address.",
            ),
            FakeClerkError::InvalidValue { param } => {
                ClerkError::value_invalid(param, format!("{param} is invalid."))
            }
            FakeClerkError::UserNotFound => ClerkError::not_found("User not found"),
            FakeClerkError::Start(_) => ClerkError::server(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

fn respond(result: Result<Response, ClerkError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn list_users(
    State(fake): Fake,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    respond((|| {
        let params = ListParams::parse(&query_pairs(query)?, true)?;
        let instance = fake.instance();
        let page = params.page(&instance.users)?;
        let views: Vec<_> = page.iter().map(|u| u.view()).collect();
        Ok(json_answer(&views))
    })())
}

pub(crate) async fn count_users(
    State(fake): Fake,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    respond((|| {
        let params = ListParams::parse(&query_pairs(query)?, false)?;
        let count = params.count(&fake.instance().users);
        Ok(Json(json!({"object": "total_count", "total_count": count})).into_response())
    })())
}

pub(crate) async fn get_user(State(fake): Fake, Path(id): Path<String>) -> Response {
    let instance = fake.instance();
    match instance.users.get(&id) {
        Some(user) => json_answer(&user.view()),
        None => ClerkError::not_found("User not found").into_response(),
    }
}

pub(crate) async fn create_user(State(fake): Fake, headers: HeaderMap, body: Bytes) -> Response {
    respond((|| {
        let body = JsonBody::parse(&body, CREATE_USER_PARAMS)?;
        body.refuse_unsupported(&[
            ("email_address_identification_status", None),
            ("phone_number", None),
            ("phone_number_identification_status", None),
            ("web3_wallet", None),
            ("password_digest", None),
            ("password_hasher", None),
            ("totp_secret", None),
            ("backup_codes", None),
            ("delete_self_enabled", Some(json!(true))),
            ("legal_accepted_at", None),
            ("create_organization_enabled", Some(json!(true))),
            ("create_organizations_limit", None),
            ("created_at", None),
            ("bypass_client_trust", Some(json!(false))),
            ("banned", Some(json!(false))),
            ("locked", Some(json!(false))),
        ])?;
        for flag in [
            "skip_password_checks",
            "skip_password_requirement",
            "skip_legal_checks",
            "skip_user_requirement",
        ] {
            body.bool(flag)?;
        }
        let emails = body.strings("email_address")?;
        let username = body.string("username")?.filter(|u| !u.is_empty());
        if emails.is_empty()
            && username.is_none()
            && body.bool("skip_user_requirement")? != Some(true)
        {
            return Err(ClerkError::missing_param("email_address"));
        }
        let new = NewUser {
            emails,
            verified: true,
            first_name: body.string("first_name")?.map(str::to_owned),
            last_name: body.string("last_name")?.map(str::to_owned),
            username: username.map(str::to_owned),
            external_id: body.string("external_id")?.map(str::to_owned),
            locale: body.string("locale")?.map(str::to_owned),
            public_metadata: body.object("public_metadata")?.unwrap_or_default(),
            private_metadata: body.object("private_metadata")?.unwrap_or_default(),
            unsafe_metadata: body.object("unsafe_metadata")?.unwrap_or_default(),
            password_enabled: check_password(&body)?,
        };
        let mut instance = fake.instance();
        let id = instance.create_user(new)?;
        instance.emit_user(
            fake.signer(),
            "user.created",
            &id,
            user_agent(&headers).as_deref(),
        );
        let user = instance
            .users
            .get(&id)
            .ok_or_else(|| ClerkError::not_found("User not found"))?;
        Ok(json_answer(&user.view()))
    })())
}

pub(crate) async fn update_user(
    State(fake): Fake,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = JsonBody::parse(&body, UPDATE_USER_PARAMS)?;
        body.refuse_unsupported(&[
            ("primary_phone_number_id", None),
            ("primary_web3_wallet_id", None),
            ("profile_image_id", None),
            ("password_digest", None),
            ("password_hasher", None),
            ("totp_secret", None),
            ("backup_codes", None),
            ("delete_self_enabled", Some(json!(true))),
            ("create_organization_enabled", Some(json!(true))),
            ("legal_accepted_at", None),
            ("create_organizations_limit", None),
            ("created_at", None),
            ("bypass_client_trust", Some(json!(false))),
        ])?;
        for flag in [
            "notify_primary_email_address_changed",
            "skip_password_checks",
            "sign_out_of_other_sessions",
            "skip_legal_checks",
        ] {
            body.bool(flag)?;
        }
        // A string sets the field; `null` leaves it. Username and external id are cleared
        // with `""` (and the username also with `null`, as Clerk documents).
        let set = |name: &str| -> Result<Option<Option<String>>, ClerkError> {
            Ok(body.string(name)?.map(|v| Some(v.to_owned())))
        };
        let clearable = |name: &str| -> Result<Option<Option<String>>, ClerkError> {
            Ok(body
                .string(name)?
                .map(|v| (!v.is_empty()).then(|| v.to_owned())))
        };
        let mut username = clearable("username")?;
        if body.is_null("username") {
            username = Some(None);
        }
        let change = ProfileChange {
            first_name: set("first_name")?,
            last_name: set("last_name")?,
            username,
            external_id: clearable("external_id")?,
            locale: set("locale")?,
            primary_email_address_id: body.string("primary_email_address_id")?.map(str::to_owned),
            new_primary_email: None,
            password_set: check_password(&body)?,
            public_metadata: None,
            private_metadata: None,
        };
        let mut instance = fake.instance();
        instance.change_user(&id, change)?;
        instance.emit_user(
            fake.signer(),
            "user.updated",
            &id,
            user_agent(&headers).as_deref(),
        );
        let user = instance
            .users
            .get(&id)
            .ok_or_else(|| ClerkError::not_found("User not found"))?;
        Ok(json_answer(&user.view()))
    })())
}

pub(crate) async fn update_user_metadata(
    State(fake): Fake,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = JsonBody::parse(&body, METADATA_PARAMS)?;
        let patch = MetadataPatch {
            public_metadata: body.object("public_metadata")?,
            private_metadata: body.object("private_metadata")?,
            unsafe_metadata: body.object("unsafe_metadata")?,
        };
        let mut instance = fake.instance();
        instance.merge_metadata(&id, patch)?;
        instance.emit_user(
            fake.signer(),
            "user.updated",
            &id,
            user_agent(&headers).as_deref(),
        );
        let user = instance
            .users
            .get(&id)
            .ok_or_else(|| ClerkError::not_found("User not found"))?;
        Ok(json_answer(&user.view()))
    })())
}

pub(crate) async fn delete_user(
    State(fake): Fake,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut instance = fake.instance();
    if !instance.delete_user(&id) {
        return ClerkError::not_found("User not found").into_response();
    }
    instance.emit_deleted(fake.signer(), &id, user_agent(&headers).as_deref());
    Json(json!({"object": "user", "id": id, "deleted": true})).into_response()
}

pub(crate) async fn create_invitation(
    State(fake): Fake,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond((|| {
        let body = JsonBody::parse(&body, CREATE_INVITATION_PARAMS)?;
        let email = body
            .string("email_address")?
            .ok_or_else(|| ClerkError::missing_param("email_address"))?;
        if !crate::error::is_valid_email(email) {
            return Err(ClerkError::format_invalid(
                "email_address",
                "email_address must be a valid email address.",
            ));
        }
        body.string("redirect_url")?;
        body.bool("notify")?;
        let expires_in_days = match body.int("expires_in_days")? {
            None => 30,
            Some(days @ 1..=365) => days,
            Some(_) => {
                return Err(ClerkError::value_invalid(
                    "expires_in_days",
                    "expires_in_days must be between 1 and 365.",
                ));
            }
        };
        if let Some(slug) = body.string("template_slug")?
            && !matches!(slug, "invitation" | "waitlist_invitation")
        {
            return Err(ClerkError::value_invalid(
                "template_slug",
                "template_slug must be invitation or waitlist_invitation.",
            ));
        }
        let new = NewInvitation {
            email_address: email.to_owned(),
            public_metadata: body.object("public_metadata")?.unwrap_or_default(),
            ignore_existing: body.bool("ignore_existing")?.unwrap_or(false),
            expires_in_days,
        };
        let mut instance = fake.instance();
        let index = instance
            .create_invitation(new)
            .map_err(|refusal| match refusal {
                InvitationRefusal::EmailTaken => ClerkError::identifier_exists("email_address"),
                InvitationRefusal::AlreadyInvited => ClerkError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "duplicate_record",
                    "duplicate invitation",
                    "There is already a pending invitation for this email address.",
                )
                .param("email_address"),
            })?;
        instance.emit_invitation(fake.signer(), index, user_agent(&headers).as_deref());
        let invitation = instance.invitations[index].to_value();
        Ok(Json(invitation).into_response())
    })())
}

pub(crate) async fn list_invitations(
    State(fake): Fake,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    respond((|| {
        let pairs = query_pairs(query)?;
        let mut limit = 10usize;
        let mut offset = 0usize;
        let mut status = None;
        let mut search = None;
        let mut order = ("created_at".to_owned(), false);
        for (name, value) in &pairs {
            match name.as_str() {
                "limit" => {
                    limit = match value.parse::<usize>() {
                        Ok(l @ 1..=500) => l,
                        _ => {
                            return Err(ClerkError::value_invalid(
                                "limit",
                                "limit must be between 1 and 500.",
                            ));
                        }
                    }
                }
                "offset" => {
                    offset = value.parse().map_err(|_| {
                        ClerkError::value_invalid(
                            "offset",
                            "offset must be a non-negative integer.",
                        )
                    })?;
                }
                "status" => {
                    if !matches!(
                        value.as_str(),
                        "pending" | "accepted" | "revoked" | "expired"
                    ) {
                        return Err(ClerkError::value_invalid("status", "status is invalid."));
                    }
                    status = Some(value.clone());
                }
                "query" => search = Some(value.to_ascii_lowercase()),
                "order_by" => {
                    let (ascending, field) = match value.as_bytes().first() {
                        Some(b'-') => (false, &value[1..]),
                        Some(b'+') => (true, &value[1..]),
                        _ => (true, value.as_str()),
                    };
                    if !matches!(field, "created_at" | "email_address" | "expires_at") {
                        return Err(ClerkError::value_invalid(
                            "order_by",
                            "order_by is invalid.",
                        ));
                    }
                    order = (field.to_owned(), ascending);
                }
                _ => {}
            }
        }
        let instance = fake.instance();
        let mut found: Vec<_> = instance
            .invitations
            .iter()
            .filter(|i| status.as_deref().is_none_or(|s| i.status == s))
            .filter(|i| {
                search.as_deref().is_none_or(|q| {
                    i.email_address.contains(q) || i.id.to_ascii_lowercase().contains(q)
                })
            })
            .collect();
        found.sort_by(|a, b| {
            let ordering = match order.0.as_str() {
                "email_address" => a.email_address.cmp(&b.email_address),
                "expires_at" => a.expires_at.cmp(&b.expires_at),
                _ => a.created_at.cmp(&b.created_at),
            };
            if order.1 {
                ordering
            } else {
                ordering.reverse()
            }
        });
        let page: Vec<Value> = found
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|i| i.to_value())
            .collect();
        Ok(Json(page).into_response())
    })())
}

pub(crate) async fn jwks(State(fake): Fake) -> Response {
    Json(fake.jwks()).into_response()
}

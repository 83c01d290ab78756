//! The API host's routes, by method and path, answered the way the real
//! service does: 401 without the token, 404 for an unknown path, 405 with
//! an `Allow` header for a method a path does not take; the workflow
//! listing (filters, order, `take`/`cursor` paging, overlapping pages on
//! demand, generated workflows for long walks), one workflow, one step, one
//! job, the manager listing and its validation, and the blob redirect to a
//! signed CDN URL. The writes (submit, cancel and updates, delete, tags,
//! step metadata) are in `writes.rs`, the upload URL and a blob's refresh
//! in `upload.rs`.
//!
//! | path | methods |
//! |---|---|
//! | `/v2/consumer/workflows` | GET, HEAD, POST |
//! | `/v2/consumer/workflows/{id}` | GET, HEAD, PUT, DELETE |
//! | `/v2/consumer/workflows/{id}/steps/{name}` | GET, HEAD, PUT |
//! | `/v2/consumer/workflows/{id}/tags` | POST, DELETE |
//! | `/v2/consumer/workflows/{id}/tags/{tag}` | DELETE |
//! | `/v1/consumer/jobs/{id}` | GET, HEAD |
//! | `/v1/manager/workflows` | GET, HEAD |
//! | `/v2/consumer/blobs/upload` | GET, HEAD |
//! | `/v2/consumer/blobs/{id}` | GET, HEAD |
//! | `/v2/consumer/blobs/{id}/refresh` | POST |
//!
//! (`PATCH` of a workflow, JSON Patch, is not served: 405.)

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use super::http::{Reply, Request};
use super::state::Shared;
use super::template::Errors;
use super::TOKEN;
use super::{cdn, upload, writes};

/// The paths the API serves.
enum Route<'a> {
    /// `/v2/consumer/workflows`
    Workflows,
    /// `/v2/consumer/workflows/{id}`
    Workflow(&'a str),
    /// `/v2/consumer/workflows/{id}/steps/{name}`
    Step(&'a str, &'a str),
    /// `/v2/consumer/workflows/{id}/tags`
    Tags(&'a str),
    /// `/v2/consumer/workflows/{id}/tags/{tag}`
    Tag(&'a str, &'a str),
    /// `/v1/consumer/jobs/{id}`
    Job(&'a str),
    /// `/v1/manager/workflows`
    ManagerWorkflows,
    /// `/v2/consumer/blobs/upload`
    Upload,
    /// `/v2/consumer/blobs/{id}`
    Blob(&'a str),
    /// `/v2/consumer/blobs/{id}/refresh`
    Refresh(&'a str),
}

impl<'a> Route<'a> {
    /// The route of decoded path segments.
    fn of(seg: &[&'a str]) -> Option<Route<'a>> {
        Some(match seg {
            ["v2", "consumer", "workflows"] => Route::Workflows,
            ["v2", "consumer", "workflows", id] => Route::Workflow(id),
            ["v2", "consumer", "workflows", id, "steps", name] => Route::Step(id, name),
            ["v2", "consumer", "workflows", id, "tags"] => Route::Tags(id),
            ["v2", "consumer", "workflows", id, "tags", tag] => Route::Tag(id, tag),
            ["v1", "consumer", "jobs", id] => Route::Job(id),
            ["v1", "manager", "workflows"] => Route::ManagerWorkflows,
            ["v2", "consumer", "blobs", "upload"] => Route::Upload,
            ["v2", "consumer", "blobs", id] => Route::Blob(id),
            ["v2", "consumer", "blobs", id, "refresh"] => Route::Refresh(id),
            _ => return None,
        })
    }

    /// The methods the fake answers on this path; any other gets 405. A
    /// HEAD is answered as its GET, without the body.
    fn methods(&self) -> &'static [&'static str] {
        match self {
            Route::Workflows => &["GET", "HEAD", "POST"],
            Route::Workflow(_) => &["GET", "HEAD", "PUT", "DELETE"],
            Route::Step(..) => &["GET", "HEAD", "PUT"],
            Route::Tags(_) => &["POST", "DELETE"],
            Route::Tag(..) => &["DELETE"],
            Route::Refresh(_) => &["POST"],
            Route::Job(_) | Route::ManagerWorkflows | Route::Upload | Route::Blob(_) => {
                &["GET", "HEAD"]
            }
        }
    }
}

/// The answer of the API host to `req`.
pub fn route(req: &Request, shared: &Shared) -> Reply {
    if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return unauthorized(shared);
    }
    let seg = req.segments();
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let Some(route) = Route::of(&seg) else {
        return not_found(&format!("Route {}", req.raw_path));
    };
    let allowed = route.methods();
    if !allowed.contains(&req.method.as_str()) {
        return method_not_allowed(req, allowed);
    }
    let method = req.method.as_str();
    match route {
        Route::Workflows if method == "POST" => writes::submit(req, shared),
        Route::Workflows => list_workflows(req, shared),
        Route::Workflow(id) => match method {
            "PUT" => writes::update(req, shared, id),
            "DELETE" => writes::delete(shared, id),
            _ => writes::read(req, shared, id),
        },
        Route::Step(id, name) if method == "PUT" => writes::step_metadata(req, shared, id, name),
        Route::Tags(id) if method == "POST" => writes::add_tag(req, shared, id),
        Route::Tags(id) => writes::remove_tags(shared, id, None),
        Route::Tag(id, tag) => writes::remove_tags(shared, id, Some(tag)),
        Route::Upload => upload::issue(shared),
        Route::Refresh(id) => upload::refresh(shared, id),
        Route::Step(id, name) => {
            let step = shared.workflows.lock().unwrap().get(id).and_then(|w| {
                w["steps"]
                    .as_array()?
                    .iter()
                    .find(|s| s["name"].as_str() == Some(name))
                    .cloned()
            });
            match step {
                Some(s) => ok_json(&s),
                None => not_found(&format!("Step {name} of workflow {id}")),
            }
        }
        Route::Job(id) => match writes::job(shared, id) {
            Some(j) => ok_json(&j),
            None => not_found(&format!("Job {id}")),
        },
        Route::ManagerWorkflows => manager_workflows(req, shared),
        Route::Blob(id) => blob_redirect(req, shared, id),
    }
}

pub(super) fn ok_json(v: &Value) -> Reply {
    Reply::json(200, &serde_json::to_string_pretty(v).unwrap())
}

pub(super) fn not_found(what: &str) -> Reply {
    Reply::problem(404, "Not Found", &format!("{what} could not be found"))
}

fn unauthorized(shared: &Shared) -> Reply {
    let body = std::fs::read_to_string(shared.fixtures.errors.join("401.json")).unwrap();
    Reply::Full {
        status: 401,
        headers: vec![
            ("Content-Type".into(), "application/problem+json".into()),
            (
                "WWW-Authenticate".into(),
                "Bearer error=\"invalid_token\"".into(),
            ),
        ],
        body: body.into_bytes(),
    }
}

fn method_not_allowed(req: &Request, allowed: &[&str]) -> Reply {
    let allow = allowed.join(", ");
    Reply::problem(
        405,
        "Method Not Allowed",
        &format!(
            "{} is not allowed on {}; allowed: {allow}",
            req.method, req.raw_path
        ),
    )
    .header("Allow", &allow)
}

fn validation(field: &str, msg: &str) -> Reply {
    let mut errors = Errors::new();
    errors.insert(field.into(), vec![msg.into()]);
    validation_errors(&errors)
}

/// A `400` ValidationProblemDetails with these `errors`.
pub(super) fn validation_errors(errors: &Errors) -> Reply {
    let doc = json!({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": errors,
        "traceId": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    });
    Reply::Full {
        status: 400,
        headers: vec![("Content-Type".into(), "application/problem+json".into())],
        body: doc.to_string().into_bytes(),
    }
}

/// `GET /v1/manager/workflows`: the fixture manager listing, with the
/// API's checks on `UserId` and `Take`.
fn manager_workflows(req: &Request, shared: &Shared) -> Reply {
    if req.param("UserId").is_none() {
        return validation("UserId", "The UserId field is required.");
    }
    let take = req.param("Take").map_or(Ok(10), str::parse::<usize>);
    match take {
        Ok(t) if (1..=10).contains(&t) => {
            let items: Vec<Value> = shared
                .fixtures
                .manager
                .as_array()
                .unwrap()
                .iter()
                .take(t)
                .cloned()
                .collect();
            ok_json(&Value::Array(items))
        }
        _ => validation("Take", "The field Take must be between 1 and 10."),
    }
}

/// `GET /v2/consumer/workflows`: the stored workflows (or generated ones),
/// filtered, ordered (newest first unless `ascending`) and paged as the
/// API does.
fn list_workflows(req: &Request, shared: &Shared) -> Reply {
    let f = &shared.fixtures;
    let take = match req.param("take").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(t)) if (1..=100).contains(&t) => t,
        _ => return validation("take", "must be between 1 and 100"),
    };
    let offset = match req.param("cursor") {
        None | Some("") => 0,
        Some(c) if c == f.first_cursor => f.first_page_len,
        Some(c) => match c.strip_prefix("off:").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return validation("cursor", "The cursor is not valid."),
        },
    };
    if shared.synthetic > 0 {
        return synthetic_page(shared, offset, take);
    }
    let tags = req.params("tags");
    let exclude_failed = req.param("excludeFailed") == Some("true");
    let query = req.param("query").map(str::to_lowercase);
    let from = req.param("fromDate").map(str::to_string);
    let to = req.param("toDate").map(str::to_string);
    let store = shared.workflows.lock().unwrap();
    let mut items: Vec<&Value> = store
        .in_creation_order()
        .rev()
        .filter(|w| {
            let wtags: Vec<&str> = w["tags"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let status = w["status"].as_str().unwrap_or("");
            let created = w["createdAt"].as_str().unwrap_or("");
            tags.iter().all(|t| wtags.contains(t))
                && !(exclude_failed && matches!(status, "failed" | "expired" | "canceled"))
                && query.as_ref().is_none_or(|q| {
                    w["metadata"].to_string().to_lowercase().contains(q)
                        || w.to_string().to_lowercase().contains(q)
                })
                && from.as_deref().is_none_or(|d| created >= d)
                && to.as_deref().is_none_or(|d| created <= d)
        })
        .collect();
    if req.param("ascending") == Some("true") {
        items.reverse();
    }
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(take)
        .map(|v| (*v).clone())
        .collect();
    let end = offset + page.len();
    let overlap = shared.overlap.load(Ordering::SeqCst);
    let next = if end < items.len() {
        if overlap == 0
            && end == f.first_page_len
            && items.len() == f.listed
            && store.len() == f.listed
        {
            Value::String(f.first_cursor.clone())
        } else {
            Value::String(format!("off:{}", next_offset(offset, end, overlap)))
        }
    } else {
        Value::Null
    };
    drop(store);
    ok_json(&json!({"next": next, "items": page}))
}

/// Where the page after `offset..end` starts: at `end`, or `overlap` items
/// before it (`Fake::overlap_pages`), but always after `offset`.
fn next_offset(offset: usize, end: usize, overlap: usize) -> usize {
    end.saturating_sub(overlap).max(offset + 1)
}

/// Generated workflows for long walks (benchmarks): copies of the newest
/// fixture workflow with numbered ids.
fn synthetic_page(shared: &Shared, offset: usize, take: usize) -> Reply {
    let template = &shared.fixtures.synthetic_template;
    let end = (offset + take).min(shared.synthetic);
    let items: Vec<Value> = (offset..end)
        .map(|n| {
            let mut w = template.clone();
            w["id"] = Value::String(format!("0-synthetic-{n:08}"));
            w
        })
        .collect();
    let overlap = shared.overlap.load(Ordering::SeqCst);
    let next = if end < shared.synthetic {
        Value::String(format!("off:{}", next_offset(offset, end, overlap)))
    } else {
        Value::Null
    };
    Reply::json(200, &json!({"next": next, "items": items}).to_string())
}

/// `GET /v2/consumer/blobs/{id}`: a 307 to a signed CDN URL (a HEAD only
/// learns that the blob exists).
fn blob_redirect(req: &Request, shared: &Shared, id: &str) -> Reply {
    if !cdn::has_blob(shared, id) {
        return not_found(&format!("Blob {id}"));
    }
    if req.method == "HEAD" {
        return Reply::Full {
            status: 204,
            headers: vec![],
            body: vec![],
        };
    }
    let raw_id = req.raw_path.rsplit('/').next().unwrap_or("");
    Reply::redirect(307, &cdn::signed_url(&shared.cdn_url, raw_id))
}

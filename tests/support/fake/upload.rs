//! Blobs made while the fake runs, and the upload of new ones.
//!
//! - `GET /v2/consumer/blobs/upload` (API host, token required) issues an
//!   upload URL on the CDN host, `<CDN>/upload/<token>?exp=…&sig=…`, good
//!   for one upload, with `expiresAt` an hour later on the fake clock.
//! - `POST <uploadUrl>` (CDN host, no token: the URL is signed) with the
//!   bytes and their `Content-Type`: checked in this order, a signature
//!   that does not match (or a token never issued) is `403
//!   SignatureDoesNotMatch`, a URL already used `403 AccessDenied`, a body
//!   over the limit ([`super::Fake::set_upload_limit`], 32 MiB by default)
//!   `413 EntityTooLarge`, a type other than `image/*`, `video/*`,
//!   `audio/*` or `application/octet-stream` (or none) `415`; these errors
//!   are the storage's XML, like the CDN's others. Otherwise `201` with a
//!   Blob (`id` ending in an extension from the type, `url` signed on the
//!   CDN, `urlExpiresAt`, `type`, `available: true`); the blob downloads
//!   from the CDN from then on, and the API's blob routes know it. Only a
//!   `201` spends the URL: a refused upload may be sent again (a choice:
//!   API.md says nothing). Every attempt that reaches the route is kept,
//!   bytes and headers, for [`super::Fake::uploads`].
//! - `POST /v2/consumer/blobs/{blobId}/refresh` (API host): `200` Blob with
//!   a fresh signed `url` (a new signature each time) for any blob the CDN
//!   has; `404` otherwise (blocked blobs included).
//!
//! The outputs of submitted workflows are kept here too, from the moment
//! their step succeeds (see `writes.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use super::http::{Reply, Request};
use super::state::Shared;
use super::stats::{iso_seconds, Rng};
use super::{cdn, routes};

/// The default largest upload, in bytes.
pub const DEFAULT_UPLOAD_LIMIT: usize = 32 * 1024 * 1024;

/// A blob kept in memory: an upload or a submitted workflow's output.
pub struct Stored {
    pub bytes: Arc<Vec<u8>>,
    pub content_type: String,
}

/// One `POST` to an upload URL, as received, and how it was answered.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The token of the URL (its last path segment).
    pub token: String,
    pub status: u16,
    /// The blob made, on a `201`.
    pub blob_id: Option<String>,
    pub bytes: Vec<u8>,
    /// Every request header, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Upload {
    pub fn header(&self, name: &str) -> Option<&str> {
        super::http::header_in(&self.headers, name)
    }
}

struct Token {
    exp: i64,
    spent: bool,
}

/// The blobs made while running, the upload URLs issued, the uploads.
pub struct Blobs {
    pub stored: HashMap<String, Stored>,
    tokens: HashMap<String, Token>,
    pub uploads: Vec<Upload>,
    pub limit: usize,
    rng: Rng,
}

impl Default for Blobs {
    fn default() -> Blobs {
        Blobs {
            stored: HashMap::new(),
            tokens: HashMap::new(),
            uploads: Vec::new(),
            limit: DEFAULT_UPLOAD_LIMIT,
            rng: Rng::for_workflow(0xB10B),
        }
    }
}

impl Blobs {
    /// A new blob id as the API makes them: 26 base32 characters and the
    /// extension.
    pub fn new_id(&mut self, ext: &str) -> String {
        format!("{}.{ext}", self.rng.blob_key())
    }

    /// A fresh signature for a signed URL.
    pub fn fresh_sig(&mut self) -> String {
        self.rng.hex(16)
    }
}

/// The signature of an upload URL: FNV-1a of the token and its expiry
/// with the fake's secret.
fn signature(token: &str, exp: i64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{token}|{exp}|fake-cdn-secret").bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `GET /v2/consumer/blobs/upload`: a new single-use upload URL.
pub fn issue(shared: &Shared) -> Reply {
    let now = shared.live.lock().unwrap().tick();
    let mut blobs = shared.blobs.lock().unwrap();
    let token = format!("up-{}", blobs.rng.hex(20));
    let exp_ms = now + 3_600_000;
    let exp = exp_ms / 1000;
    blobs
        .tokens
        .insert(token.clone(), Token { exp, spent: false });
    let url = format!(
        "{}/upload/{token}?exp={exp}&sig={}",
        shared.cdn_url,
        signature(&token, exp)
    );
    routes::ok_json(&json!({"uploadUrl": url, "expiresAt": iso_seconds(exp_ms)}))
}

/// The extension a blob of this content type gets, if the type is taken.
fn extension(content_type: &str) -> Option<String> {
    let (major, minor) = content_type.split_once('/')?;
    let minor = minor.to_ascii_lowercase();
    let ext = match (major.to_ascii_lowercase().as_str(), minor.as_str()) {
        ("image", "jpeg" | "jpg") => "jpeg".to_string(),
        ("image", "svg+xml") => "svg".to_string(),
        ("video", "quicktime") => "mov".to_string(),
        ("audio", "mpeg") => "mp3".to_string(),
        ("audio", "wav" | "x-wav" | "wave") => "wav".to_string(),
        ("application", "octet-stream") => "bin".to_string(),
        ("image" | "video" | "audio", m) => {
            let m: String = m
                .trim_start_matches("x-")
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if m.is_empty() {
                return None;
            }
            m
        }
        _ => return None,
    };
    Some(ext)
}

/// The `type` of a Blob of this content type.
pub fn blob_type(content_type: &str) -> &'static str {
    match content_type.split('/').next().unwrap_or("") {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        _ => "blob",
    }
}

/// `POST /upload/<token>` on the CDN host.
pub fn receive(req: &Request, shared: &Shared, token: &str) -> Reply {
    let now = shared.live.lock().unwrap().tick();
    let mut blobs = shared.blobs.lock().unwrap();
    let content_type = req.header("content-type").map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let valid = blobs.tokens.get(token).is_some_and(|t| {
        req.param("sig") == Some(signature(token, t.exp).as_str())
            && req.param("exp") == Some(t.exp.to_string().as_str())
    });
    let spent = blobs.tokens.get(token).is_some_and(|t| t.spent);
    let ext = content_type.as_deref().and_then(extension);
    let refused = if !valid {
        Some((403, "SignatureDoesNotMatch"))
    } else if spent {
        Some((403, "AccessDenied"))
    } else if req.body.len() > blobs.limit {
        Some((413, "EntityTooLarge"))
    } else if ext.is_none() {
        Some((415, "UnsupportedMediaType"))
    } else {
        None
    };
    let mut upload = Upload {
        token: token.to_string(),
        status: refused.map_or(201, |r| r.0),
        blob_id: None,
        bytes: req.body.clone(),
        headers: req.headers.clone(),
    };
    if let Some((status, code)) = refused {
        blobs.uploads.push(upload);
        return cdn::storage_error(status, code);
    }
    let ctype = content_type.unwrap_or_default();
    let id = blobs.new_id(&ext.unwrap_or_default());
    blobs.tokens.get_mut(token).unwrap().spent = true;
    blobs.stored.insert(
        id.clone(),
        Stored {
            bytes: Arc::new(req.body.clone()),
            content_type: ctype.clone(),
        },
    );
    upload.blob_id = Some(id.clone());
    blobs.uploads.push(upload);
    let sig = blobs.fresh_sig();
    let body = blob_doc(&shared.cdn_url, &id, &ctype, &sig, now);
    Reply::json(201, &body.to_string())
}

/// A Blob with a URL signed with `sig`, good for a day from `now`.
fn blob_doc(cdn_url: &str, id: &str, content_type: &str, sig: &str, now: i64) -> serde_json::Value {
    let exp_ms = now + 86_400_000;
    json!({
        "id": id,
        "type": blob_type(content_type),
        "available": true,
        "url": format!("{cdn_url}/signed/{id}?sig={sig}&exp={}", exp_ms / 1000),
        "urlExpiresAt": iso_seconds(exp_ms),
        "nsfwLevel": null,
        "blockedReason": null
    })
}

/// `POST /v2/consumer/blobs/{id}/refresh`.
pub fn refresh(shared: &Shared, id: &str) -> Reply {
    let Some(ctype) = cdn::blob_content_type(shared, id) else {
        return routes::not_found(&format!("Blob {id}"));
    };
    let now = shared.live.lock().unwrap().tick();
    let sig = shared.blobs.lock().unwrap().fresh_sig();
    routes::ok_json(&blob_doc(&shared.cdn_url, id, &ctype, &sig, now))
}

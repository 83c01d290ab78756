//! `civitai-orch blob`: the redirect to a signed URL (the token never follows
//! it), `--download`, `--output`, and hostile ids kept inside `--dir`.

use crate::support::Cli;
use crate::support::{cli, temp_dir, Fake, Reply, TOKEN};
use crate::{files, JPEG};

#[test]
fn blob_follows_the_redirect_without_the_token() {
    let fake = Fake::start();
    let id = "JNFDW54JNTATNW42HACYCWSQP0.jpeg";
    let run = cli(&fake, &["blob", id]);
    run.ok()
        .stdout_has(&format!("Blob URL: {}/signed/{id}?sig=", fake.cdn_url));
    assert!(
        fake.cdn_requests().is_empty(),
        "no download without --download"
    );

    let dir = temp_dir("blob");
    let run = cli(
        &fake,
        &[
            "blob",
            id,
            "--download",
            "--nsfw",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    run.ok()
        .stdout_has(&format!("({} bytes)", fake.media(id).len()));
    assert_eq!(std::fs::read(dir.join(id)).unwrap(), fake.media(id));
    let api = fake.api_requests().pop().unwrap();
    assert_eq!(
        api.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(api.param("hideMatureContent"), Some("false"));
    let cdn = fake.cdn_requests();
    assert_eq!(cdn.len(), 1);
    assert_eq!(cdn[0].header("authorization"), None);

    let doc = cli(
        &fake,
        &[
            "--json",
            "blob",
            id,
            "--download",
            "--dir",
            dir.to_str().unwrap(),
            "--force",
        ],
    )
    .ok()
    .json();
    assert_eq!(doc["blobId"], id);
    assert_eq!(doc["bytes"], fake.media(id).len());

    cli(&fake, &["blob", "nope.png"])
        .code(4)
        .stderr_has("no blob 'nope.png'");
}

#[test]
fn output_writes_to_a_file_or_stdout() {
    let fake = Fake::start();
    let run = cli(&fake, &["blob", JPEG, "--output", "-"]);
    run.ok();
    assert_eq!(run.raw_stdout, fake.media(JPEG));
    let dir = temp_dir("out");
    let target = dir.join("picture.jpg");
    cli(&fake, &["blob", JPEG, "-o", target.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read(&target).unwrap(), fake.media(JPEG));
}

#[test]
fn hostile_blob_ids_land_inside_the_folder() {
    let fake = Fake::start();
    let dir = temp_dir("hostile");
    let inner = dir.join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    for id in ["../../etc/passwd", "a/b", "CON", "new\nline", ".."] {
        let encoded: String = id
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        // Dot segments are encoded too, or servers would resolve them.
        let encoded = if id == ".." {
            "%2E%2E".to_string()
        } else {
            encoded
        };
        fake.script(
            &format!("/v2/consumer/blobs/{encoded}"),
            // The API serves the bytes itself: asked once for the URL, once
            // for the file.
            vec![
                Reply::Full {
                    status: 200,
                    headers: vec![("Content-Type".into(), "image/png".into())],
                    body: b"png".to_vec(),
                };
                2
            ],
        );
        cli(
            &fake,
            &["blob", id, "--download", "--dir", inner.to_str().unwrap()],
        )
        .ok();
    }
    let names = files(&inner);
    assert_eq!(names.len(), 5, "{names:?}");
    for n in &names {
        assert!(
            !n.contains('/') && !n.contains('\n') && n != "CON.png",
            "{n}"
        );
    }
    assert_eq!(files(&dir), ["inner"], "nothing written outside --dir");
}

/// `--output` naming a folder (existing, or with a trailing `/`) or nothing
/// at all cannot be saved to: it is refused before the file is fetched, and
/// no `.part` is left beside it (today the whole file is downloaded into
/// `outdir.part`, `sub.part` or `.part`, then the rename fails).
#[test]
fn output_that_names_a_folder_or_nothing_is_refused_before_fetching() {
    let fake = Fake::start();
    let dir = temp_dir("output-dir");
    std::fs::create_dir_all(dir.join("outdir")).unwrap();
    for output in ["outdir", "sub/", ""] {
        let run = Cli::new(
            Some(&fake),
            &["blob", JPEG, "--download", &format!("--output={output}")],
        )
        .dir(&dir)
        .run();
        assert_ne!(run.code, 0, "{run:?}");
        run.one_error_line();
        let names = files(&dir);
        assert!(
            !names.iter().any(|n| n.ends_with(".part")),
            "--output={output:?} left {names:?}{run:?}"
        );
    }
    assert!(
        fake.cdn_requests().is_empty(),
        "the file was fetched for an --output that cannot hold it"
    );
}

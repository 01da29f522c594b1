//! `reid serve` as users run it: the real binary on loopback, driven over HTTP. Search quality
//! against `reid evaluate`, durability across `kill -9`, and clear errors for bad requests.

mod common;

use base64::Engine;
use common::{ok, python, read_json, reid, repo, shared_data, skip};
use reid_data::dataset::{list_images, parse_market_name};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SAMPLE_SPEC: &str = "specs/sample.yaml";
const TOKEN: &str = "s3cret-token";

/// A running `reid serve`, killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Server {
    /// Starts `reid serve` on `store` (a folder or a `milvus://` address).
    fn start(spec: &str, store: impl AsRef<std::ffi::OsStr>, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reid"))
            .args([
                "serve",
                "-e",
                spec,
                "--addr",
                "127.0.0.1:0",
                "--token",
                TOKEN,
            ])
            .arg("--store")
            .arg(store)
            .args(extra)
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("reid serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("reid serve did not start: {line:?}"))
            .to_owned();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self { child, base, agent }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("POST", Some(b)) => {
                let mut r = self.agent.post(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send_json(b)
            }
            (m, _) => {
                let mut r = match m {
                    "GET" => self.agent.get(&url),
                    "DELETE" => self.agent.delete(&url),
                    _ => unreachable!(),
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
        }
        .expect("the server answers");
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// An authorised call that must succeed.
    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, v) = self.call(method, path, body, Some(TOKEN));
        assert_eq!(status, 200, "{method} {path}: {v}");
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn b64(path: &Path) -> String {
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap())
}

/// `(person id, camera)` from a Market-1501 file name.
fn labels(path: &Path) -> (String, String) {
    let (pid, cam) = parse_market_name(path).unwrap();
    (pid.to_string(), cam.to_string())
}

fn enrol_images(server: &Server, paths: &[PathBuf]) -> Vec<u64> {
    let mut ids = Vec::new();
    for chunk in paths.chunks(48) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|p| {
                let (pid, cam) = labels(p);
                json!({"image_b64": b64(p), "person_id": pid, "camera": cam,
                       "tags": {"file": p.file_name().unwrap().to_str().unwrap()}})
            })
            .collect();
        let v = server.ok("POST", "/v1/gallery", Some(&json!({ "items": items })));
        ids.extend(
            v["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap()),
        );
    }
    ids
}

/// Rank-1 by the Market-1501 protocol (`reid evaluate`'s): per query, gallery items of the same
/// person and camera are ignored, queries without a match in another camera are skipped.
fn service_rank1(server: &Server, queries: &[PathBuf], gallery: &[PathBuf]) -> f64 {
    let gallery_labels: Vec<_> = gallery.iter().map(|p| labels(p)).collect();
    let (mut valid, mut hits) = (0, 0);
    for q in queries {
        let (pid, cam) = labels(q);
        if !gallery_labels.iter().any(|(p, c)| *p == pid && *c != cam) {
            continue;
        }
        valid += 1;
        let res = server.ok(
            "POST",
            "/v1/search",
            Some(&json!({"image_b64": b64(q), "top_k": 50})),
        );
        let first = res["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| !(h["person_id"] == pid.as_str() && h["camera"] == cam.as_str()))
            .expect("a match outside the query's own camera");
        hits += usize::from(first["person_id"] == pid.as_str());
    }
    hits as f64 / valid as f64
}

/// The spec the CUHK03 service tests run.
const CUHK03_SPEC: &str = "specs/cuhk03_omz0267.yaml";

/// CUHK03's gallery and query images and `reid evaluate`'s rank-1 on them with
/// [`CUHK03_SPEC`]; `None` (the test skips) without the shared data or the Python set-up.
fn cuhk03() -> Option<(Vec<PathBuf>, Vec<PathBuf>, f64)> {
    let (data, _) = (shared_data()?, python()?);
    let set = data.join("cuhk03-market");
    let gallery = list_images(&set.join("bounding_box_test")).unwrap();
    let queries = list_images(&set.join("query")).unwrap();
    Some((gallery, queries, evaluate_rank1(CUHK03_SPEC)))
}

/// Rank-1 by `reid evaluate -e spec`.
fn evaluate_rank1(spec: &str) -> f64 {
    let results = tempfile::tempdir().unwrap();
    ok(&reid(&[
        "evaluate",
        "-e",
        spec,
        "-r",
        results.path().to_str().unwrap(),
    ]));
    read_json(&results.path().join("evaluate/results.json"))["rank1"]
        .as_f64()
        .unwrap()
}

#[test]
fn searching_the_enrolled_cuhk03_gallery_ranks_as_reid_evaluate() {
    let Some((gallery, queries, expected)) = cuhk03() else {
        return;
    };

    let store = tempfile::tempdir().unwrap();
    let server = Server::start(CUHK03_SPEC, store.path(), &[]);
    let ids = enrol_images(&server, &gallery);
    assert_eq!(ids.len(), gallery.len());
    assert_eq!(server.ok("GET", "/v1/stats", None)["count"], gallery.len());
    let rank1 = service_rank1(&server, &queries, &gallery);
    println!("service rank-1 {rank1:.4}, reid evaluate rank-1 {expected:.4}");
    assert!(
        (rank1 - expected).abs() < 1e-9,
        "service {rank1} vs evaluate {expected}"
    );

    // The batcher merged the 48-image enrolments into model batches of up to 32.
    let (_, metrics) = server.call("GET", "/metrics", None, Some(TOKEN));
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains("reid_model_batch_size_bucket{le=\"32\"}"),
        "{metrics}"
    );
    assert!(metrics.contains(&format!("reid_gallery_items {}", gallery.len())));
    assert!(metrics.contains("reid_http_requests_total{route=\"/v1/search\",status=\"200\"}"));
}

/// Polls `/v1/stats` until it counts `n` items: Milvus reads with bounded staleness.
fn wait_for_count(server: &Server, n: usize) {
    let started = std::time::Instant::now();
    loop {
        let count = server.ok("GET", "/v1/stats", None)["count"].clone();
        if count == n {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the gallery counts {count}, not {n}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The same service on a real Milvus server (`REID_MILVUS=HOST:PORT`; scripts/test.sh starts
/// one): the CUHK03 gallery ranks as `reid evaluate`, lookups, crops, filters and deletions
/// work, and a restarted service finds the gallery as it was.
#[test]
fn the_milvus_gallery_serves_the_same_api_and_ranks_as_reid_evaluate() {
    let Ok(milvus) = std::env::var("REID_MILVUS") else {
        skip("REID_MILVUS=HOST:PORT names no Milvus server (scripts/with_milvus.sh starts one)");
        return;
    };
    let Some((gallery, queries, expected)) = cuhk03() else {
        return;
    };
    let collection = format!("reid_test_{}", std::process::id());
    let store = format!("milvus://{milvus}/{collection}");

    let server = Server::start(CUHK03_SPEC, &store, &[]);
    let ids = enrol_images(&server, &gallery);
    assert_eq!(ids.len(), gallery.len());
    wait_for_count(&server, gallery.len());
    let stats = server.ok("GET", "/v1/stats", None);
    assert_eq!(stats["store"], store.as_str());
    let rank1 = service_rank1(&server, &queries, &gallery);
    println!("Milvus service rank-1 {rank1:.4}, reid evaluate rank-1 {expected:.4}");
    assert!(
        (rank1 - expected).abs() < 1e-9,
        "service {rank1} vs evaluate {expected}"
    );

    // Lookup and crop of an item.
    let item = server.ok("GET", &format!("/v1/gallery/{}", ids[5]), None);
    let (pid, cam) = labels(&gallery[5]);
    assert_eq!(
        (&item["person_id"], &item["camera"]),
        (&json!(pid), &json!(cam))
    );
    assert_eq!(item["has_image"], true);
    let crop = server
        .agent
        .get(format!("{}/v1/gallery/{}/image", server.base, ids[5]))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(
        crop.into_body().read_to_vec().unwrap(),
        std::fs::read(&gallery[5]).unwrap()
    );

    // A camera filter, then a deletion that searches, lookups and counts see at once.
    let query = json!({"embedding": item["embedding"], "top_k": 20, "camera": cam});
    let hits = server.ok("POST", "/v1/search", Some(&query))["results"].clone();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits[0]["id"], ids[5]);
    assert!(hits[0]["distance"].as_f64().unwrap() < 1e-3);
    assert!(hits.iter().all(|h| h["camera"] == cam.as_str()));
    server.ok("DELETE", &format!("/v1/gallery/{}", ids[5]), None);
    let (status, _) = server.call("GET", &format!("/v1/gallery/{}", ids[5]), None, Some(TOKEN));
    assert_eq!(status, 404);
    let after = server.ok("POST", "/v1/search", Some(&query))["results"].clone();
    assert!(after.as_array().unwrap().iter().all(|h| h["id"] != ids[5]));
    assert_eq!(
        server.ok("GET", "/v1/stats", None)["count"],
        gallery.len() - 1
    );

    // A new service process on the same collection: same items, same answers.
    let probe = json!({"image_b64": b64(&queries[0]), "top_k": 10});
    let before = server.ok("POST", "/v1/search", Some(&probe));
    drop(server);
    let server = Server::start(CUHK03_SPEC, &store, &[]);
    wait_for_count(&server, gallery.len() - 1);
    assert_eq!(server.ok("POST", "/v1/search", Some(&probe)), before);

    // A model of another size is refused on this collection.
    drop(server);
    let out = reid(&[
        "serve",
        "-e",
        "specs/cuhk03_osnet.yaml",
        "--model",
        "../shared/data/models/osnet_x0_25_msmt17.onnx",
        "--store",
        &store,
        "--addr",
        "127.0.0.1:0",
    ]);
    let err = common::fails(&out);
    assert!(
        err.contains("gallery holds 256-d embeddings but the model makes 512-d"),
        "{err}"
    );

    ureq::post(format!("http://{milvus}/v1/vector/collections/drop"))
        .send_json(json!({ "collectionName": collection }))
        .unwrap();
}

#[test]
fn enrolled_items_images_and_deletions_are_served_and_kept_across_kill_9() {
    let Some(_) = python() else { return };
    let dir = repo().join("assets/sample/cuhk03-mini");
    let gallery = list_images(&dir.join("bounding_box_test")).unwrap();
    let query = &list_images(&dir.join("query")).unwrap()[0];
    let store = tempfile::tempdir().unwrap();
    let server = Server::start(SAMPLE_SPEC, store.path(), &[]);
    let ids = enrol_images(&server, &gallery[..40]);

    // Item, crop and deletion.
    let item = server.ok("GET", &format!("/v1/gallery/{}", ids[3]), None);
    assert_eq!((item["person_id"].clone(), item["camera"].clone()), {
        let (p, c) = labels(&gallery[3]);
        (json!(p), json!(c))
    });
    let norm: f64 = item["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap().powi(2))
        .sum();
    assert!(
        (norm - 1.0).abs() < 1e-4,
        "stored embeddings are L2-normalised"
    );
    let url = format!("{}/v1/gallery/{}/image", server.base, ids[3]);
    let crop = server
        .agent
        .get(&url)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(crop.headers()["content-type"], "image/jpeg");
    assert_eq!(
        crop.into_body().read_to_vec().unwrap(),
        std::fs::read(&gallery[3]).unwrap()
    );
    server.ok("DELETE", &format!("/v1/gallery/{}", ids[0]), None);
    assert_eq!(
        server
            .call("GET", &format!("/v1/gallery/{}", ids[0]), None, Some(TOKEN))
            .0,
        404
    );

    // Searching by embedding gives what searching by image gives.
    let by_image = server.ok(
        "POST",
        "/v1/search",
        Some(&json!({"image_b64": b64(query), "top_k": 5})),
    );
    let emb = server.ok("POST", "/v1/embed", Some(&json!({"image_b64": b64(query)})));
    let by_embedding = server.ok(
        "POST",
        "/v1/search",
        Some(&json!({"embedding": emb["embeddings"][0], "top_k": 5})),
    );
    let ranked = |v: &Value| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(ranked(&by_image), ranked(&by_embedding));
    assert!(!ranked(&by_image).contains(&ids[0]));
    let cam2 = server.ok(
        "POST",
        "/v1/search",
        Some(&json!({"image_b64": b64(query), "top_k": 40, "camera": "2"})),
    );
    assert!(
        cam2["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["camera"] == "2")
    );

    // Enrol embeddings in another camera without pause, and kill -9 the server midway.
    let before = server.ok(
        "POST",
        "/v1/search",
        Some(&json!({"image_b64": b64(query), "top_k": 10, "camera": "1"})),
    );
    let dim = emb["dim"].as_u64().unwrap() as usize;
    let (base, agent) = (server.base.clone(), server.agent.clone());
    let writer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for i in 0.. {
            let items: Vec<Value> = (0..8)
                .map(|j| json!({"embedding": (0..dim).map(|d| ((i * 8 + j + d) % 7) as f32 - 3.0).collect::<Vec<_>>(),
                                "camera": "load", "timestamp": i as f64}))
                .collect();
            let response = agent
                .post(format!("{base}/v1/gallery"))
                .header("Authorization", format!("Bearer {TOKEN}"))
                .send_json(json!({ "items": items }));
            match response {
                Ok(r) if r.status() == 200 => {
                    let v: Value = r.into_body().read_json().unwrap();
                    acked.extend(
                        v["ids"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|i| i.as_u64().unwrap()),
                    );
                }
                _ => return acked, // the server is gone
            }
        }
        unreachable!()
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    drop(server); // SIGKILL
    let acked = writer.join().unwrap();
    assert!(
        acked.len() > 8,
        "the writer got going ({} acknowledged)",
        acked.len()
    );

    let server = Server::start(SAMPLE_SPEC, store.path(), &[]);
    for id in acked.iter().chain(&ids[1..]) {
        assert_eq!(
            server
                .call("GET", &format!("/v1/gallery/{id}"), None, Some(TOKEN))
                .0,
            200,
            "item {id} was acknowledged"
        );
    }
    assert_eq!(
        server
            .call("GET", &format!("/v1/gallery/{}", ids[0]), None, Some(TOKEN))
            .0,
        404,
        "deletion kept"
    );
    let after = server.ok(
        "POST",
        "/v1/search",
        Some(&json!({"image_b64": b64(query), "top_k": 10, "camera": "1"})),
    );
    // Same items, order and metadata; distances to float rounding (the scan's blocking
    // depends on the gallery size).
    let (before, after) = (
        before["results"].as_array().unwrap(),
        after["results"].as_array().unwrap(),
    );
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(after) {
        let (mut b, mut a) = (b.clone(), a.clone());
        let (db, da) = (
            b["distance"].take().as_f64().unwrap(),
            a["distance"].take().as_f64().unwrap(),
        );
        assert_eq!(b, a);
        assert!((db - da).abs() < 1e-5, "{db} vs {da}");
    }
}

#[test]
fn bad_requests_get_json_errors_with_the_right_status() {
    let Some(_) = python() else { return };
    let store = tempfile::tempdir().unwrap();
    let server = Server::start(
        SAMPLE_SPEC,
        store.path(),
        &[
            "serve.max_body_bytes=200000",
            "serve.max_image_pixels=20000",
        ],
    );
    let img = repo()
        .join("assets/sample/cuhk03-mini/query")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let image = json!({ "image_b64": b64(&img) });
    let expect = |status: u16, (got, body): (u16, Value), needle: &str| {
        assert_eq!(got, status, "{body}");
        let msg = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("JSON error body: {body}"));
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    };
    expect(
        401,
        server.call("POST", "/v1/embed", Some(&image), None),
        "bearer token",
    );
    expect(
        401,
        server.call("GET", "/v1/stats", None, Some("wrong")),
        "bearer token",
    );
    assert_eq!(server.call("GET", "/healthz", None, None).0, 200);
    let call = |path: &str, body: Value| server.call("POST", path, Some(&body), Some(TOKEN));
    expect(
        400,
        call("/v1/embed", json!({"image_b64": "%%%"})),
        "image 0: invalid base64",
    );
    expect(
        400,
        call("/v1/embed", json!({"image_b64": "aGVsbG8gd29ybGQ="})),
        "image 0",
    );
    expect(
        400,
        call("/v1/embed", json!({"imgs": []})),
        "unknown field `imgs`",
    );
    expect(
        400,
        call("/v1/search", json!({"embedding": [1.0, 2.0]})),
        "the gallery holds",
    );
    expect(
        400,
        call(
            "/v1/gallery",
            json!({"items": [{"embedding": [1.0], "image_b64": "AA=="}]}),
        ),
        "exactly one of",
    );
    expect(
        400,
        call("/v1/search", json!({"embedding": [1.0], "top_k": 0})),
        "top_k",
    );
    // 600×600 = 360,000 pixels > 20,000: refused before decoding.
    let big = image::RgbImage::new(600, 600);
    let mut png = Vec::new();
    big.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let big_b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    expect(
        413,
        call("/v1/embed", json!({"image_b64": big_b64})),
        "pixels",
    );
    let huge = "A".repeat(300_000);
    expect(
        413,
        call("/v1/embed", json!({"image_b64": huge})),
        "length limit",
    );
    expect(
        400,
        server.call("GET", "/v1/gallery/abc", None, Some(TOKEN)),
        "must be a number",
    );
    expect(
        404,
        server.call("GET", "/v1/gallery/12345", None, Some(TOKEN)),
        "no gallery item",
    );
    expect(
        404,
        server.call("GET", "/v1/nothing", None, Some(TOKEN)),
        "no such route",
    );
    let raw = server
        .agent
        .post(format!("{}/v1/search", server.base))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(raw.status(), 400);

    // Every route the OpenAPI document names is served (not the 404 fallback).
    let doc = server.call("GET", "/openapi.json", None, None).1;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "0");
            let method = method.to_uppercase();
            let body = (method == "POST").then(|| json!({}));
            let (status, v) = server.call(&method, &concrete, body.as_ref(), Some(TOKEN));
            assert!(
                v.get("error").is_none_or(|e| e != "no such route"),
                "{method} {path}: {status}"
            );
        }
    }
    // The page is there.
    let (status, page) = server.call("GET", "/", None, None);
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap().contains("gallery search"));
    // Unknown spec keys and a missing model stop the server before it listens.
    for (extra, needle) in [
        (&["serve.nope=1"][..], "serve.nope"),
        (&["--model", "missing.onnx"][..], "missing.onnx"),
    ] {
        let mut args = vec!["serve", "-e", SAMPLE_SPEC, "--store", "/tmp/x"];
        args.extend_from_slice(extra);
        let stderr = common::fails(&reid(&args));
        assert!(stderr.contains(needle), "{stderr}");
    }
}

/// A headless Chromium driven through chromedriver's WebDriver HTTP API.
struct Browser {
    driver: Child,
    url: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// `None` (and a "skipped" line) when Debian's chromium + chromium-driver are not installed.
    fn start() -> Option<Self> {
        let (driver, chromium) = ("/usr/bin/chromedriver", "/usr/bin/chromium");
        if !Path::new(driver).exists() || !Path::new(chromium).exists() {
            skip(&format!(
                "{driver} or {chromium} not found (apt-get install chromium chromium-driver)"
            ));
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let ready = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            agent.get(format!("{base}/status")).call().is_ok()
        });
        assert!(ready, "chromedriver did not start");
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
        ]
        .into_iter()
        .map(String::from)
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}}}});
        let mut browser = Self {
            driver: child,
            url: base,
            agent,
            _profile: profile,
        };
        let session = browser.cmd("POST", "/session", Some(caps));
        let id = session["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        browser.url = format!("{}/session/{id}", browser.url);
        Some(browser)
    }

    /// A WebDriver command; returns its `value`.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let response = match body {
            Some(b) => self.agent.post(&url).send_json(b),
            None if method == "GET" => self.agent.get(&url).call(),
            None => self.agent.delete(&url).call(),
        }
        .expect("chromedriver answers");
        let v: Value = response.into_body().read_json().unwrap();
        assert!(v["value"].get("error").is_none(), "{method} {path}: {v}");
        v["value"].clone()
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    fn find(&self, css: &str) -> String {
        self.find_all(css)
            .pop()
            .unwrap_or_else(|| panic!("no element {css}"))
    }

    fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let el = self.find(css);
        self.cmd("POST", &format!("/element/{el}/click"), Some(json!({})));
    }

    fn script(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Polls `script` until it returns true (20 s at most).
    fn wait_for(&self, script: &str) {
        let ok = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            self.script(script) == json!(true)
        });
        assert!(ok, "timed out waiting for {script}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.url.contains("/session/") {
            let _ = self.agent.delete(&self.url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn the_web_page_searches_the_gallery_and_enrols_crops_in_chromium() {
    let (Some(_), Some(browser)) = (python(), Browser::start()) else {
        return;
    };
    let dir = repo().join("assets/sample/cuhk03-mini");
    let gallery = list_images(&dir.join("bounding_box_test")).unwrap();
    let query = list_images(&dir.join("query")).unwrap().remove(0);
    let store = tempfile::tempdir().unwrap();
    let server = Server::start(SAMPLE_SPEC, store.path(), &[]);
    enrol_images(&server, &gallery);
    let expected: Vec<Value> = server.ok(
        "POST",
        "/v1/search",
        Some(&json!({"image_b64": b64(&query), "top_k": 10})),
    )["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["person_id"].clone())
        .collect();

    browser.cmd("POST", "/url", Some(json!({ "url": server.base })));
    browser.type_into("#token", TOKEN);
    browser.script(
        "document.getElementById('token').dispatchEvent(new Event('change')); return true;",
    );
    browser.wait_for(
        "return document.getElementById('stats').textContent.startsWith('126 gallery items');",
    );
    browser.type_into("#query", query.to_str().unwrap());
    browser.click("#search-form button");
    browser.wait_for(
        "const imgs = [...document.querySelectorAll('.match img')];
         return imgs.length == 10 && imgs.every(i => i.complete && i.naturalWidth > 0);",
    );
    let shown = browser
        .script("return [...document.querySelectorAll('.match .pid')].map(e => e.textContent);");
    assert_eq!(
        shown.as_array().unwrap(),
        &expected,
        "the grid shows the API's ranking"
    );

    let artifacts = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(browser.cmd("GET", "/screenshot", None).as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    std::fs::write(artifacts.join("web_search.png"), &png).unwrap();

    // Enrol a crop from the page: it lands in the gallery with the typed metadata.
    browser.type_into("#enrol-files", query.to_str().unwrap());
    browser.type_into("#person-id", "from-page");
    browser.type_into("#enrol-camera", "9");
    browser.click("#enrol-form button");
    browser.wait_for(
        "return document.getElementById('enrol-status').textContent.startsWith('enrolled 1');",
    );
    let res = server.ok(
        "POST",
        "/v1/search",
        Some(&json!({"image_b64": b64(&query), "top_k": 1, "camera": "9"})),
    );
    assert_eq!(res["results"][0]["person_id"], "from-page");
    assert!(res["results"][0]["distance"].as_f64().unwrap() < 1e-3);
}

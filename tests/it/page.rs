//! `report.html`, the page of a run and of an audit: self-contained (no network, no script),
//! carrying the report's figures, and rendered by a real browser (headless Chromium) into a
//! picture that is not blank.
//!
//! The browser half needs Chromium (Debian's `chromium`). Without it the test says so and
//! checks only the HTML — unless `INFRASIM_REQUIRE_BROWSER` is set, as CI sets it after
//! installing Chromium, so that CI cannot skip the browser silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn infrasim(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_infrasim"))
        .args(args)
        .current_dir(crate::util::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "infrasim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn browser() -> Option<PathBuf> {
    let from_env = std::env::var_os("CHROMIUM").map(PathBuf::from);
    let found = from_env.into_iter().chain(
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .filter_map(|b| {
                let out = Command::new("which").arg(b).output().ok()?;
                out.status
                    .success()
                    .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
            }),
    );
    let found = found.into_iter().next();
    if found.is_none() {
        assert!(
            std::env::var_os("INFRASIM_REQUIRE_BROWSER").is_none(),
            "INFRASIM_REQUIRE_BROWSER is set but no Chromium was found"
        );
        eprintln!("no Chromium on this machine: the page is checked as HTML only");
    }
    found
}

fn headless(chromium: &Path, extra: &[&str], page: &Path) -> std::process::Output {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1600",
        ])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The DOM of `dir/report.html` as headless Chromium parsed it.
fn dom(chromium: &Path, dir: &Path) -> String {
    let out = headless(chromium, &["--dump-dom"], &dir.join("report.html"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A screenshot of `dir/report.html` into `dir/name`, and its [`ink`].
fn screenshot(chromium: &Path, dir: &Path, name: &str) -> (f64, usize) {
    let shot = dir.join(name);
    let arg = format!("--screenshot={}", shot.display());
    headless(chromium, &[&arg], &dir.join("report.html"));
    ink(&shot)
}

/// Fraction of pixels that are not (near) white, and the number of distinct colours.
fn ink(png_file: &Path) -> (f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_file).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let inked = pixels
        .iter()
        .filter(|p| p[..3].iter().any(|&c| c < 200))
        .count();
    let mut colours: Vec<[u8; 3]> = pixels.iter().map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    (inked as f64 / pixels.len() as f64, colours.len())
}

/// No network and no script: nothing is fetched to view the page.
fn assert_self_contained(html: &str) {
    for bad in ["<script", "<link", "<img", "src=", "@import", "url("] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
}

/// Runs `infrasim <args> --out DIR`, DIR a fresh temporary folder named after `name`, and
/// returns DIR, its `report.html` (checked self-contained) and its JSON file `json`.
fn page(name: &str, args: &[&str], json: &str) -> (PathBuf, String, Value) {
    let dir = std::env::temp_dir().join(format!("infrasim-{name}-{}", std::process::id()));
    let out = dir.to_str().unwrap();
    infrasim(&[args, &["--out", out]].concat());
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let value = serde_json::from_str(&std::fs::read_to_string(dir.join(json)).unwrap()).unwrap();
    assert_self_contained(&html);
    (dir, html, value)
}

fn pct(x: f64) -> String {
    format!("{:.4} %", x * 100.0)
}

#[test]
fn a_runs_page_shows_its_figures_in_a_browser() {
    let (dir, html, report) = page(
        "page",
        &["run", "scenarios/01-single-lb.json"],
        "report.json",
    );
    let d = dir.to_str().unwrap();
    let availability = pct(report["availability"].as_f64().unwrap());
    let read = pct(report["classes"]["read"]["availability"].as_f64().unwrap());
    for want in [
        availability.as_str(),
        read.as_str(),
        "crash (process)",
        "<svg",
    ] {
        assert!(html.contains(want), "the page lacks {want:?}");
    }
    // No `monitoring` section, no `operations` in the report, none on the page.
    assert!(report.get("operations").is_none());
    assert!(!html.contains("Monitoring and on-call"));
    // The same page twice: byte for byte.
    infrasim(&["run", "scenarios/01-single-lb.json", "--out", d]);
    assert_eq!(
        html,
        std::fs::read_to_string(dir.join("report.html")).unwrap()
    );
    if let Some(chromium) = browser() {
        let dom = dom(&chromium, &dir);
        // The browser parsed the figures where the page put them.
        let figure = format!("<div class=\"figure\" id=\"availability\"><b>{availability}</b>");
        assert!(dom.contains(&figure), "DOM lacks {figure}");
        assert!(
            dom.contains("<table id=\"classes\">"),
            "DOM lacks the classes table"
        );
        assert!(dom.contains("</svg>"), "DOM lacks the timeline");
        let (inked, colours) = screenshot(&chromium, &dir, "page.png");
        // Text, tables and the chart: a real page inks a few percent of its pixels in
        // many colours (a blank or error page: none, or one).
        assert!(
            inked > 0.02 && colours > 50,
            "inked {inked}, {colours} colours"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Seed design 1 with tuned Prometheus over two days: the page shows the report's
/// `operations` — how many failures a person was paged about, the median time to detect,
/// every listed alert — as the JSON has them.
#[test]
fn a_monitored_runs_page_shows_what_the_monitoring_did() {
    let (dir, html, report) = page(
        "page-ops",
        &["run", "scenarios/09c-seed1-monitoring-tuned.json"],
        "report.json",
    );
    let o = &report["operations"];
    let (noticed, failures) = (
        o["noticed"].as_u64().unwrap(),
        o["failures"].as_u64().unwrap(),
    );
    assert!(failures > 0, "random crashes over two days");
    let detect = o["time_to_detect_s"]["p50"].as_f64().unwrap();
    // Scrapes and evaluations every 15 s, `for: 1m`: detection takes about a minute and a
    // half at most, shown in seconds.
    assert!(
        detect > 60.0 && detect < 120.0,
        "median time to detect {detect}"
    );
    let figures = [
        format!(
            "<div class=\"figure\" id=\"ops-noticed\"><b class=\"good\">{noticed} of {failures}</b>"
        ),
        format!("<div class=\"figure\" id=\"ops-detect\"><b>{detect:.1} s</b>"),
        format!(
            "<div class=\"figure\" id=\"ops-alerts-fired\"><b>{}</b>",
            o["alerts_fired"]
        ),
    ];
    assert_eq!(
        noticed, failures,
        "tuned monitoring pages about every failure"
    );
    for f in &figures {
        assert!(html.contains(f.as_str()), "the page lacks {f}");
    }
    let alerts = o["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty());
    if let Some(chromium) = browser() {
        let dom = dom(&chromium, &dir);
        for f in &figures {
            assert!(dom.contains(f.as_str()), "DOM lacks {f}");
        }
        // The durations table has its four rows; the alerts table one row per listed alert.
        let table = |id: &str| {
            let start = dom
                .find(&format!("<table id=\"{id}\">"))
                .unwrap_or_else(|| panic!("DOM lacks the {id} table"));
            let end = start + dom[start..].find("</table>").unwrap();
            dom[start..end].matches("<tr>").count() - 1
        };
        assert_eq!(table("operations"), 4);
        assert_eq!(table("alerts"), alerts.len());
        let first = &alerts[0];
        let row = format!(
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{:.1} s</td>",
            first["alert"].as_str().unwrap(),
            first["about"].as_str().unwrap(),
            first["pending_at_s"].as_f64().unwrap()
        );
        assert!(dom.contains(&row), "DOM lacks the first alert {row}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Scenario 12b (seed 1 with HTTPS, a firewall and rate limiting, under attack): the page
/// shows the connections (opened, requests per connection, first vs reused latency, the
/// LB's handshakes and CPU by kind of work, as a table and a stacked bar), the attacks
/// (offered, dropped where, served; the legitimate requests denied by the rate limit) and
/// the firewall, with the JSON's figures; a run without them (01) shows none of these.
#[test]
fn an_attacked_https_runs_page_shows_connections_attacks_and_firewalls() {
    let (dir, html, report) = page(
        "page-https",
        &["run", "scenarios/12b-seed1-firewall-under-attack.json"],
        "report.json",
    );
    let c = &report["connections"];
    let lb = &c["load_balancers"]["lb"];
    let (full, resumed) = (
        lb["handshakes"]["full"].as_u64().unwrap(),
        lb["handshakes"]["resumed"].as_u64().unwrap(),
    );
    assert!(
        full > 0 && resumed > 0,
        "12b's handshakes: {full}, {resumed}"
    );
    let ms = |x: &Value| format!("{:.2} ms", x.as_f64().unwrap());
    let db = &report["attacks"]["db-flood"];
    let http = &report["attacks"]["http-flood"];
    let fw = &report["firewalls"]["fw"];
    let figures = [
        format!(
            "<div class=\"figure\" id=\"conn-opened\"><b>{}</b>",
            c["opened"]
        ),
        format!(
            "<div class=\"figure\" id=\"conn-per-connection\"><b>{:.1}</b>",
            c["requests_per_connection"].as_f64().unwrap()
        ),
        format!(
            "<div class=\"figure\" id=\"conn-first-p50\"><b>{}</b>",
            ms(&c["first_request_latency_ms"]["p50"])
        ),
        format!(
            "<div class=\"figure\" id=\"conn-reused-p50\"><b>{}</b>",
            ms(&c["reused_latency_ms"]["p50"])
        ),
        // The clients are never limited behind 12b's rate limit.
        "<div class=\"figure\" id=\"legit-rate-limited\"><b class=\"good\">0</b>".to_string(),
    ];
    let rows = [
        format!(
            "<tr><td>lb</td><td class=\"n\">{}</td><td class=\"n\">{full}</td><td class=\"n\">{resumed}</td>",
            lb["accepted"]
        ),
        format!(
            "<tr><td>db-flood</td><td>connect_flood</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            db["offered"], db["dropped"]["firewall"]
        ),
        format!(
            "<td class=\"n\">{}</td><td>rate_limited {}</td></tr>",
            http["served"], http["failed"]["rate_limited"]
        ),
        format!(
            "<tr><td>fw</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            fw["new_flows"], fw["denied"]
        ),
    ];
    assert_eq!(db["offered"], db["dropped"]["firewall"], "all dropped");
    for want in figures.iter().chain(&rows) {
        assert!(html.contains(want.as_str()), "the page lacks {want}");
    }
    assert!(html.contains("<svg id=\"cpu-lb\""), "the LB's CPU bar");
    if let Some(chromium) = browser() {
        let dom = dom(&chromium, &dir);
        for want in figures.iter().chain(&rows) {
            assert!(dom.contains(want.as_str()), "DOM lacks {want}");
        }
        let table = |id: &str| {
            let start = dom
                .find(&format!("<table id=\"{id}\">"))
                .unwrap_or_else(|| panic!("DOM lacks the {id} table"));
            let end = start + dom[start..].find("</table>").unwrap();
            dom[start..end].matches("<tr>").count() - 1
        };
        assert_eq!(table("conn-latency"), 2);
        assert_eq!(table("conn-lbs"), 1);
        assert_eq!(table("attacks"), 3);
        assert_eq!(table("firewalls"), 1);
        let (inked, colours) = screenshot(&chromium, &dir, "page.png");
        assert!(
            inked > 0.02 && colours > 50,
            "inked {inked}, {colours} colours"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // Seed 1 has none of them: no such sections.
    let (dir, html, _) = page(
        "page-plain",
        &["run", "scenarios/01-single-lb.json"],
        "report.json",
    );
    for absent in ["Connections and TLS", "<h2>Attacks", "<h2>Firewalls"] {
        assert!(!html.contains(absent), "01's page shows {absent}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_audits_page_shows_the_verdict_in_a_browser() {
    let (dir, html, audit) = page(
        "verdict",
        &[
            "audit",
            "scenarios/01-single-lb.json",
            "--crash",
            "30s",
            "--duration",
            "2m",
        ],
        "audit.json",
    );
    let spofs = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["expected_loss"].as_f64().unwrap() >= 0.5)
        .count();
    assert_eq!(
        spofs, 7,
        "the LB and its link for three classes, the primary for writes"
    );
    let count = format!("<div class=\"figure\" id=\"spof-count\"><b>{spofs}</b>");
    assert!(html.contains(&count));
    // Plain HTTP: the clients' hop is in the clear across the internet; to the servers and
    // replication in the clear inside (MySQL's queries use TLS by default).
    let hops =
        "<p id=\"hops\">3 of 4 hops carry user data in the clear, 1 of them across the internet.";
    assert!(html.contains(hops), "page lacks {hops}");
    assert_eq!(audit["hops"][0]["protocol"], "HTTP");
    assert_eq!(audit["hops"][0]["crosses_internet"], true);
    if let Some(chromium) = browser() {
        let dom = dom(&chromium, &dir);
        assert!(dom.contains(&count), "DOM lacks {count}");
        assert!(dom.contains(hops), "DOM lacks {hops}");
        let verdict = "<li id=\"v-plain-internet\">User data in the clear across the internet: <span class=\"bad\">clients → lb</span></li>";
        assert!(dom.contains(verdict), "DOM lacks {verdict}");
        assert_eq!(dom.matches("NO — ON THE INTERNET</td>").count(), 1);
        assert_eq!(dom.matches("single point of failure</td>").count(), spofs);
        let (inked, colours) = screenshot(&chromium, &dir, "verdict.png");
        assert!(
            inked > 0.02 && colours > 20,
            "inked {inked}, {colours} colours"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

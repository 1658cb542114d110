//! `report.html`: a run, or an audit's verdict, as one self-contained page people can share.
//!
//! Self-contained means it opens from a file with no network: the CSS is inline, the
//! timeline is the same hand-written SVG as `timeline.svg`, inlined, and there is no script.
//! Every figure is written by this module from the report, so the page and the JSON cannot
//! disagree.

use std::fmt::Write as _;

use infrasim::Report;
use infrasim::audit::{Audit, Proof};
use infrasim::engine::SimDuration;
use infrasim::report::DurationStats;

use crate::timeline;

/// The page's style: system fonts, readable tables, the verdict's colours.
const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24;background:#fff}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}\
.sub{color:#57606a;margin-top:0}\
.figures{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}\
.figure{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:9rem}\
.figure b{display:block;font-size:1.4rem}.figure span{color:#57606a;font-size:.85rem}\
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}\
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}th{background:#f6f8fa}\
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.bad{color:#b42318;font-weight:600}.good{color:#1a7f37}.warn{color:#9a6700;font-weight:600}\
svg{max-width:100%;height:auto;border:1px solid #d0d7de;border-radius:6px}";

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.4} %", x * 100.0)
}

fn ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.2} s", x / 1000.0)
    } else {
        format!("{x:.2} ms")
    }
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(title)
    );
}

fn close(out: &mut String) {
    out.push_str(
        "<p class=\"sub\">Written by infrasim, a deterministic simulator: the same scenario and \
         seed give this page again, byte for byte.</p>\n</body>\n</html>\n",
    );
}

/// An HTML table being written: a header row, then rows of cells.
struct Table(String);

impl Table {
    fn new(id: &str, header: &[&str]) -> Table {
        let mut s = format!("<table id=\"{}\">\n<thead><tr>", esc(id));
        for h in header {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        Table(s)
    }

    fn row(&mut self, cells: &[Cell]) {
        self.0.push_str("<tr>");
        for c in cells {
            match c {
                Cell::Text(t) => {
                    let _ = write!(self.0, "<td>{}</td>", esc(t));
                }
                Cell::Num(t) => {
                    let _ = write!(self.0, "<td class=\"n\">{}</td>", esc(t));
                }
                Cell::Styled(class, t) => {
                    let _ = write!(self.0, "<td class=\"{class}\">{}</td>", esc(t));
                }
            }
        }
        self.0.push_str("</tr>\n");
    }

    fn finish(mut self, out: &mut String) {
        self.0.push_str("</tbody>\n</table>\n");
        out.push_str(&self.0);
    }
}

/// A table cell: text, a right-aligned number, or text with a style class.
enum Cell {
    Text(String),
    Num(String),
    Styled(&'static str, String),
}

fn figure(out: &mut String, id: &str, value: &str, label: &str) {
    let _ = writeln!(
        out,
        "<div class=\"figure\" id=\"{}\"><b>{}</b><span>{}</span></div>",
        esc(id),
        esc(value),
        esc(label)
    );
}

/// The page of one run: headline figures, classes, components, the database, the timeline,
/// the clients' connections and TLS (with `clients.connections`), attacks and firewalls
/// (when the scenario has them), faults, the monitoring and the on-call person (with a
/// `monitoring` section), and outages.
pub fn run(r: &Report, file: &str) -> String {
    let mut out = String::new();
    open(&mut out, &format!("{} — infrasim", r.scenario));
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p class=\"sub\">{} · seed {} · {} replication(s) of {:.0} simulated seconds · {} events</p>",
        esc(&r.scenario),
        esc(file),
        r.seed,
        r.replications,
        r.simulated_seconds,
        r.events
    );
    out.push_str("<div class=\"figures\">\n");
    figure(
        &mut out,
        "availability",
        &pct(r.availability),
        "availability (requests)",
    );
    figure(
        &mut out,
        "time-availability",
        &pct(r.time_availability),
        "time availability (windows)",
    );
    figure(&mut out, "p50", &ms(r.latency_ms.p50_ms), "median latency");
    figure(&mut out, "p99", &ms(r.latency_ms.p99_ms), "p99 latency");
    figure(
        &mut out,
        "throughput",
        &format!("{:.1}/s", r.throughput_per_s),
        "successes per second",
    );
    figure(
        &mut out,
        "failed",
        &r.requests.failed_total().to_string(),
        &format!("failed of {} offered", r.requests.offered),
    );
    out.push_str("</div>\n");
    classes(&mut out, r);
    components(&mut out, r);
    database(&mut out, r);
    if let Some(ts) = &r.timeseries {
        out.push_str("<h2>Timeline</h2>\n");
        // The SVG's own XML prolog, if any, is not valid inside HTML.
        let svg = timeline::svg(ts, &r.scenario);
        let svg = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        out.push_str(svg);
    }
    connections(&mut out, r);
    attacks(&mut out, r);
    firewalls(&mut out, r);
    faults(&mut out, r);
    operations(&mut out, r);
    outages(&mut out, r);
    close(&mut out);
    out
}

fn classes(out: &mut String, r: &Report) {
    out.push_str("<h2>Request classes</h2>\n");
    let mut t = Table::new(
        "classes",
        &[
            "class",
            "offered",
            "succeeded",
            "failed",
            "availability",
            "time availability",
            "p50",
            "p99",
            "failures by reason",
        ],
    );
    for (name, c) in &r.classes {
        let reasons: Vec<String> = crate::output::nonzero_counts(&c.failed);
        t.row(&[
            Cell::Text(name.clone()),
            Cell::Num(c.offered.to_string()),
            Cell::Num(c.succeeded.to_string()),
            Cell::Num(c.failed.values().sum::<u64>().to_string()),
            Cell::Num(pct(c.availability)),
            Cell::Num(pct(c.time_availability)),
            Cell::Num(ms(c.latency_ms.p50_ms)),
            Cell::Num(ms(c.latency_ms.p99_ms)),
            Cell::Text(if reasons.is_empty() {
                "—".into()
            } else {
                reasons.join(", ")
            }),
        ]);
    }
    t.finish(out);
}

fn components(out: &mut String, r: &Report) {
    out.push_str("<h2>Components</h2>\n");
    let mut t = Table::new(
        "components",
        &[
            "component",
            "kind",
            "utilization",
            "mean queue",
            "max queue",
            "served",
            "rejected",
        ],
    );
    for (name, c) in &r.components {
        t.row(&[
            Cell::Text(name.clone()),
            Cell::Text(c.kind.clone()),
            Cell::Num(format!("{:.1} %", c.utilization * 100.0)),
            Cell::Num(format!("{:.2}", c.mean_queue)),
            Cell::Num(c.max_queue.to_string()),
            Cell::Num(c.served.to_string()),
            Cell::Num(c.rejected.to_string()),
        ]);
    }
    t.finish(out);
}

fn database(out: &mut String, r: &Report) {
    let Some(d) = &r.database else {
        return;
    };
    out.push_str("<h2>Database</h2>\n");
    let mut t = Table::new("database", &["measure", "value"]);
    let rows = [
        ("lost writes", d.lost_writes.to_string()),
        ("stale reads", d.stale_reads.to_string()),
        ("stale read ratio", format!("{:.6}", d.stale_read_ratio)),
        (
            "read-your-writes violations",
            d.read_your_writes_violations.to_string(),
        ),
        (
            "replication lag mean / p99 / max",
            format!(
                "{} / {} / {}",
                ms(d.replication_lag_ms.mean),
                ms(d.replication_lag_ms.p99),
                ms(d.replication_lag_ms.max)
            ),
        ),
        ("failovers", d.failovers.to_string()),
        ("semi-sync fallbacks", d.semi_sync_fallbacks.to_string()),
    ];
    for (k, v) in rows {
        t.row(&[Cell::Text(k.into()), Cell::Num(v)]);
    }
    t.finish(out);
}

fn faults(out: &mut String, r: &Report) {
    if r.faults.is_empty() {
        return;
    }
    out.push_str("<h2>Faults</h2>\n");
    let mut t = Table::new(
        "faults",
        &[
            "fault",
            "target",
            "injected",
            "detected",
            "by",
            "recovered",
            "downtime",
            "failed requests",
            "lost writes",
        ],
    );
    for f in &r.faults {
        t.row(&[
            Cell::Text(f.fault.clone()),
            Cell::Text(f.target.clone()),
            Cell::Num(format!("{:.1} s", f.injected_at_s)),
            Cell::Num(at(f.detected_at_s)),
            Cell::Text(f.detected_by.clone().unwrap_or_else(|| "—".into())),
            Cell::Num(at(f.recovered_at_s)),
            Cell::Num(format!("{:.0} s", f.downtime_s)),
            Cell::Num(f.failed_requests.to_string()),
            Cell::Num(f.lost_writes.to_string()),
        ]);
    }
    t.finish(out);
}

/// The kinds of a load balancer's CPU work, as the report names them, with their labels
/// and colours (the LB's CPU bar and its legend).
const CPU_KINDS: [(&str, &str, &str); 5] = [
    ("full_handshakes", "full TLS handshakes", "#cf222e"),
    ("resumed_handshakes", "resumed TLS handshakes", "#bf8700"),
    ("connections", "connections (accept, close)", "#8250df"),
    ("requests", "requests", "#0969da"),
    ("tls_requests", "requests' encryption", "#1a7f37"),
];

/// The clients' keep-alive connections (the report's `connections`): how many were opened
/// and how many requests each carried, the first request of a connection against the
/// others, and each load balancer's handshakes and CPU by kind of work (a stacked bar).
fn connections(out: &mut String, r: &Report) {
    let Some(c) = &r.connections else {
        return;
    };
    out.push_str("<h2>Connections and TLS</h2>\n<div class=\"figures\">\n");
    figure(
        out,
        "conn-opened",
        &c.opened.to_string(),
        "connections opened",
    );
    figure(
        out,
        "conn-per-connection",
        &format!("{:.1}", c.requests_per_connection),
        "requests per connection",
    );
    figure(
        out,
        "conn-first-p50",
        &ms(c.first_request_latency_ms.p50_ms),
        "median first request of a connection",
    );
    figure(
        out,
        "conn-reused-p50",
        &ms(c.reused_latency_ms.p50_ms),
        "median request on a reused connection",
    );
    out.push_str("</div>\n");
    let mut t = Table::new(
        "conn-latency",
        &["request", "succeeded", "mean", "p50", "p90", "p99", "max"],
    );
    for (what, l) in [
        ("first of its connection", &c.first_request_latency_ms),
        ("on a reused connection", &c.reused_latency_ms),
    ] {
        t.row(&[
            Cell::Text(what.into()),
            Cell::Num(l.count.to_string()),
            Cell::Num(ms(l.mean_ms)),
            Cell::Num(ms(l.p50_ms)),
            Cell::Num(ms(l.p90_ms)),
            Cell::Num(ms(l.p99_ms)),
            Cell::Num(ms(l.max_ms)),
        ]);
    }
    t.finish(out);
    let closed: Vec<String> = crate::output::nonzero_counts(&c.closed);
    let _ = writeln!(
        out,
        "<p id=\"conn-closed\">{} requests, {} of them on a reused connection. Closed: {}.</p>",
        c.requests,
        c.reused,
        if closed.is_empty() {
            "none".to_string()
        } else {
            esc(&closed.join(", "))
        }
    );
    let mut header: Vec<String> = [
        "load balancer",
        "accepted",
        "full handshakes",
        "resumed",
        "0-RTT",
        "resumption ratio",
    ]
    .map(String::from)
    .to_vec();
    header.extend(CPU_KINDS.iter().map(|k| format!("CPU: {}", k.1)));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = Table::new("conn-lbs", &header);
    for (name, l) in &c.load_balancers {
        let h = &l.handshakes;
        let mut cells = vec![
            Cell::Text(name.clone()),
            Cell::Num(l.accepted.to_string()),
            Cell::Num(h.full.to_string()),
            Cell::Num(h.resumed.to_string()),
            Cell::Num(h.early_data.to_string()),
            Cell::Num(format!("{:.1} %", h.resumption_ratio * 100.0)),
        ];
        for (key, _, _) in CPU_KINDS {
            let u = l.cpu_utilization.get(key).copied().unwrap_or(0.0);
            cells.push(Cell::Num(format!("{:.3} %", u * 100.0)));
        }
        t.row(&cells);
    }
    t.finish(out);
    for (name, l) in &c.load_balancers {
        cpu_bar(out, name, &l.cpu_utilization);
    }
}

/// A load balancer's busy CPU as one bar split by kind of work (each kind's share of the
/// busy time), with its legend: inline SVG, no script.
fn cpu_bar(out: &mut String, lb: &str, cpu: &std::collections::BTreeMap<String, f64>) {
    let busy: f64 = CPU_KINDS
        .iter()
        .map(|k| cpu.get(k.0).copied().unwrap_or(0.0))
        .sum();
    if busy <= 0.0 {
        return;
    }
    let (width, bar) = (720.0, 24.0);
    let _ = write!(
        out,
        "<svg id=\"cpu-{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" \
         viewBox=\"0 0 {width} {}\" role=\"img\"><title>{}: CPU by kind of work</title>\
         <text x=\"8\" y=\"16\" font-size=\"13\">{}: busy {:.3} % of its cores, by kind of work</text>",
        esc(lb),
        bar + 24.0 + 18.0 * CPU_KINDS.len() as f64 + 8.0,
        bar + 24.0 + 18.0 * CPU_KINDS.len() as f64 + 8.0,
        esc(lb),
        esc(lb),
        busy * 100.0
    );
    let mut x = 8.0;
    let span = width - 16.0;
    for (key, label, colour) in CPU_KINDS {
        let u = cpu.get(key).copied().unwrap_or(0.0);
        let w = span * u / busy;
        if w > 0.0 {
            let _ = write!(
                out,
                "<rect x=\"{x:.2}\" y=\"24\" width=\"{w:.2}\" height=\"{bar}\" fill=\"{colour}\">\
                 <title>{label}: {:.1} %</title></rect>",
                100.0 * u / busy
            );
        }
        x += w;
    }
    for (k, (key, label, colour)) in CPU_KINDS.iter().enumerate() {
        let u = cpu.get(*key).copied().unwrap_or(0.0);
        let y = 24.0 + bar + 8.0 + 18.0 * k as f64;
        let _ = write!(
            out,
            "<rect x=\"8\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"26\" y=\"{:.0}\" font-size=\"12\">{label}: {:.1} % of the busy time</text>",
            y + 10.0,
            100.0 * u / busy
        );
    }
    out.push_str("</svg>\n");
}

/// Attack traffic (the report's `attacks`): each attack's offered connections (or SYNs),
/// where they were dropped, how many were served and how the rest failed; and the
/// legitimate requests a rate limit denied.
fn attacks(out: &mut String, r: &Report) {
    if r.attacks.is_empty() {
        return;
    }
    let denied = r.requests.failed.get("rate_limited").copied().unwrap_or(0);
    let class = if denied > 0 { "bad" } else { "good" };
    let _ = writeln!(
        out,
        "<h2>Attacks</h2>\n<div class=\"figures\">\n\
         <div class=\"figure\" id=\"legit-rate-limited\"><b class=\"{class}\">{denied}</b>\
         <span>legitimate requests denied by rate limiting, of {} offered</span></div>",
        r.requests.offered
    );
    let offered: u64 = r.attacks.values().map(|a| a.offered).sum();
    let served: u64 = r.attacks.values().map(|a| a.served).sum();
    figure(
        out,
        "attack-offered",
        &offered.to_string(),
        "attack connections or SYNs",
    );
    figure(out, "attack-served", &served.to_string(), "of them served");
    out.push_str("</div>\n");
    let mut t = Table::new(
        "attacks",
        &[
            "attack",
            "kind",
            "offered",
            "dropped at a firewall",
            "conntrack full",
            "firewall down",
            "target's backlog",
            "SYN cookies",
            "served",
            "failed by reason",
        ],
    );
    for (name, a) in &r.attacks {
        let reasons: Vec<String> = crate::output::nonzero_counts(&a.failed);
        t.row(&[
            Cell::Text(name.clone()),
            Cell::Text(a.kind.clone()),
            Cell::Num(a.offered.to_string()),
            Cell::Num(a.dropped.firewall.to_string()),
            Cell::Num(a.dropped.conntrack_full.to_string()),
            Cell::Num(a.dropped.firewall_down.to_string()),
            Cell::Num(a.dropped.backlog.to_string()),
            Cell::Num(a.syn_cookies.to_string()),
            Cell::Num(a.served.to_string()),
            Cell::Text(if reasons.is_empty() {
                "—".into()
            } else {
                reasons.join(", ")
            }),
        ]);
    }
    t.finish(out);
}

/// Each firewall's flows and drops (the report's `firewalls`).
fn firewalls(out: &mut String, r: &Report) {
    if r.firewalls.is_empty() {
        return;
    }
    out.push_str("<h2>Firewalls</h2>\n");
    let mut t = Table::new(
        "firewalls",
        &[
            "firewall",
            "new flows",
            "denied",
            "conntrack full",
            "early drops",
            "dropped while down",
            "conntrack peak",
        ],
    );
    for (name, f) in &r.firewalls {
        t.row(&[
            Cell::Text(name.clone()),
            Cell::Num(f.new_flows.to_string()),
            Cell::Num(f.denied.to_string()),
            Cell::Num(f.conntrack_full.to_string()),
            Cell::Num(f.early_drops.to_string()),
            Cell::Num(f.down_drops.to_string()),
            Cell::Num(f.conntrack_peak.to_string()),
        ]);
    }
    t.finish(out);
}

/// A duration in seconds, in the unit a person reads it in: seconds up to two minutes,
/// minutes up to two hours, then hours.
fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.2} h", s / 3600.0)
    }
}

/// What the monitoring and the on-call person did (the report's `operations`): how many
/// failures a person heard of in time, from a failure to its alert, page, acknowledgment
/// and repair over every replication, and the first replication's alerts and monitoring
/// crashes.
fn operations(out: &mut String, r: &Report) {
    let Some(o) = &r.operations else {
        return;
    };
    let who = match o.system.as_str() {
        "none" => "No monitoring system: only users report failures".to_string(),
        system => format!("Watched by {}", esc(system)),
    };
    let _ = writeln!(
        out,
        "<h2>Monitoring and on-call</h2>\n<p class=\"sub\" id=\"ops-system\">{who}. \
         {} failures over {} replication(s), each measured from its start.</p>",
        o.failures, r.replications
    );
    out.push_str("<div class=\"figures\">\n");
    let noticed = if o.noticed < o.failures {
        "bad"
    } else {
        "good"
    };
    let _ = writeln!(
        out,
        "<div class=\"figure\" id=\"ops-noticed\"><b class=\"{noticed}\">{} of {}</b>\
         <span>failures paged before they ended</span></div>",
        o.noticed, o.failures
    );
    let median =
        |d: &Option<DurationStats>| d.as_ref().map_or("—".to_string(), |d| duration(d.p50));
    figure(
        out,
        "ops-detect",
        &median(&o.time_to_detect_s),
        "median time to detect (alert, or users' complaint)",
    );
    figure(
        out,
        "ops-notify",
        &median(&o.time_to_notify_s),
        "median time to the page",
    );
    figure(
        out,
        "ops-unnoticed",
        &duration(o.unnoticed_s),
        "unnoticed failure per replication",
    );
    figure(
        out,
        "ops-pages",
        &format!("{:.1}", o.pages),
        "pages per replication",
    );
    figure(
        out,
        "ops-alerts-fired",
        &o.alerts_fired.to_string(),
        "alerts fired (first replication)",
    );
    out.push_str("</div>\n");
    let mut t = Table::new(
        "operations",
        &["from a failure to", "n", "mean", "p50", "p90", "min", "max"],
    );
    for (what, d) in [
        ("its alert", &o.time_to_detect_s),
        ("the page", &o.time_to_notify_s),
        ("acknowledged", &o.time_to_acknowledge_s),
        ("repaired", &o.time_to_repair_s),
    ] {
        let mut cells = vec![Cell::Text(what.into())];
        match d {
            Some(d) => {
                cells.push(Cell::Num(d.n.to_string()));
                for x in [d.mean, d.p50, d.p90, d.min, d.max] {
                    cells.push(Cell::Num(duration(x)));
                }
            }
            None => {
                cells.push(Cell::Num("0".into()));
                cells.extend((0..5).map(|_| Cell::Num("—".into())));
            }
        }
        t.row(&cells);
    }
    t.finish(out);
    if !o.alerts.is_empty() {
        let _ = writeln!(
            out,
            "<p>Alerts of the first replication: the first {} of {} fired.</p>",
            o.alerts.len(),
            o.alerts_fired
        );
        let mut t = Table::new(
            "alerts",
            &["alert", "about", "pending", "fired", "paged", "resolved"],
        );
        for a in &o.alerts {
            t.row(&[
                Cell::Text(a.alert.clone()),
                Cell::Text(a.about.clone()),
                Cell::Num(at(Some(a.pending_at_s))),
                Cell::Num(at(Some(a.fired_at_s))),
                Cell::Num(at(a.notified_at_s)),
                Cell::Num(at(a.resolved_at_s)),
            ]);
        }
        t.finish(out);
    }
    if !o.monitoring_outages.is_empty() {
        out.push_str("<p>The monitoring's own crashes (first replication):</p>\n");
        let mut t = Table::new(
            "monitoring-outages",
            &["down", "noticed", "acknowledged", "back up"],
        );
        for m in &o.monitoring_outages {
            t.row(&[
                Cell::Num(at(Some(m.down_at_s))),
                Cell::Num(at(m.noticed_at_s)),
                Cell::Num(at(m.acknowledged_at_s)),
                Cell::Num(at(m.up_at_s)),
            ]);
        }
        t.finish(out);
    }
}

/// An instant of the run in seconds, or — for none.
fn at(x: Option<f64>) -> String {
    x.map_or("—".to_string(), |s| format!("{s:.1} s"))
}

fn outages(out: &mut String, r: &Report) {
    if r.outages.is_empty() {
        return;
    }
    out.push_str("<h2>Outages</h2>\n");
    let mut t = Table::new("outages", &["class", "start", "end", "length", "cause"]);
    for o in &r.outages {
        t.row(&[
            Cell::Text(o.class.clone()),
            Cell::Num(format!("{:.1} s", o.start_s)),
            Cell::Num(format!("{:.1} s", o.end_s)),
            Cell::Num(format!("{:.0} s", o.end_s - o.start_s)),
            Cell::Text(o.cause.clone()),
        ]);
    }
    t.finish(out);
}

/// The page of an audit: the verdict on single points of failure, each with its proof, and
/// what every crash cost.
pub fn audit(name: &str, file: &str, crash: SimDuration, a: &Audit) -> String {
    let mut out = String::new();
    open(&mut out, &format!("{name} — verdict — infrasim"));
    let spofs: Vec<_> = a.single_points().collect();
    let contradicted = a
        .findings
        .iter()
        .filter(|f| f.proof == Proof::Contradicted)
        .count();
    let _ = writeln!(
        out,
        "<h1>Verdict: {}</h1>\n<p class=\"sub\">{} · each component crashed for {crash}, one at a time, \
         same seed; every finding of the topology graph checked by its run</p>",
        esc(name),
        esc(file)
    );
    out.push_str("<div class=\"figures\">\n");
    figure(
        &mut out,
        "spof-count",
        &spofs.len().to_string(),
        "single points of failure (component or link × class)",
    );
    figure(
        &mut out,
        "contradicted-count",
        &contradicted.to_string(),
        "findings the simulation contradicts",
    );
    out.push_str("</div>\n");
    verdict(&mut out, &a.summary);
    out.push_str("<h2>Single points of failure, and what the redundancy covers</h2>\n");
    if spofs.is_empty() {
        out.push_str("<p class=\"good\" id=\"no-spof\">None: every class survives the loss of any one component or link.</p>\n");
    }
    let mut t = Table::new(
        "findings",
        &[
            "component or link",
            "class",
            "the graph says",
            "expected loss",
            "measured loss",
            "proof",
            "why",
        ],
    );
    for f in &a.findings {
        let e = &f.exposure;
        let says = if e.is_spof() {
            Cell::Styled("bad", "single point of failure".into())
        } else if e.expected_loss > 0.0 {
            Cell::Styled("warn", "loses its share".into())
        } else {
            Cell::Styled("good", "redundant".into())
        };
        let proof = match f.proof {
            Proof::Confirmed => Cell::Styled("good", "confirmed".into()),
            Proof::Contradicted => Cell::Styled("bad", "contradicted".into()),
        };
        t.row(&[
            Cell::Text(e.element.clone()),
            Cell::Text(e.class.clone()),
            says,
            Cell::Num(format!("{:.0} %", e.expected_loss * 100.0)),
            Cell::Num(format!("{:.0} %", f.measured_loss * 100.0)),
            proof,
            Cell::Text(e.reason.clone()),
        ]);
    }
    t.finish(&mut out);
    out.push_str("<h2>What each crash cost</h2>\n");
    let mut t = Table::new(
        "crashes",
        &[
            "crashed",
            "kind",
            "availability",
            "read",
            "write",
            "static",
            "downtime",
        ],
    );
    for r in &a.rows {
        let class = |c: &str| r.classes.get(c).map_or("—".to_string(), |x| pct(*x));
        t.row(&[
            Cell::Text(r.component.clone()),
            Cell::Text(r.kind.clone()),
            Cell::Num(pct(r.availability)),
            Cell::Num(class("read")),
            Cell::Num(class("write")),
            Cell::Num(class("static")),
            Cell::Num(format!("{:.0} s", r.downtime_s)),
        ]);
    }
    t.finish(&mut out);
    watches(&mut out, a);
    exposure(&mut out, a);
    hops(&mut out, a);
    if !a.remedies.is_empty() {
        remedies(&mut out, &a.remedies);
    }
    close(&mut out);
    out
}

/// The verdict's lines, each naming what it found, in the style the line gives it (red when
/// something is found, green for none; the monitoring line amber, or red without any).
fn verdict(out: &mut String, v: &infrasim::audit::Summary) {
    out.push_str("<h2>The verdict</h2>\n<ul id=\"verdict\">\n");
    for l in crate::output::verdict_lines(v) {
        let class = l.style();
        let _ = writeln!(
            out,
            "<li id=\"{}\">{}: <span class=\"{class}\">{}</span></li>",
            l.id,
            esc(l.what),
            esc(&l.list())
        );
    }
    out.push_str("</ul>\n");
}

fn watches(out: &mut String, a: &Audit) {
    let blind = a.watches.iter().filter(|w| w.blind_spot).count();
    let _ = writeln!(
        out,
        "<h2>Blind spots</h2>\n<p id=\"blind-spots\">{blind} of {} components page no one when they fail. \
         Each was crashed for good, with the scenario's monitoring, in a run of its own.</p>",
        a.watches.len()
    );
    let mut t = Table::new(
        "watches",
        &[
            "component",
            "a person learns of it",
            "alerted by",
            "handled silently by",
            "in its run: paged after",
            "by",
            "proof",
        ],
    );
    for w in &a.watches {
        let learns = match w.expected.as_str() {
            "alert" => Cell::Styled("good", "from an alert".into()),
            "users" => Cell::Styled("warn", "when users complain".into()),
            _ => Cell::Styled("bad", "never".into()),
        };
        t.row(&[
            Cell::Text(w.component.clone()),
            learns,
            Cell::Text(listed(&w.alerted_by)),
            Cell::Text(listed(&w.handled_by)),
            Cell::Num(w.noticed_after_s.map_or_else(
                || format!("never (watched {:.0} s)", w.watched_s),
                |s| format!("{s:.1} s"),
            )),
            Cell::Text(w.noticed_by.clone().unwrap_or_else(|| "—".into())),
            match w.proof {
                Proof::Confirmed => Cell::Styled("good", "confirmed".into()),
                Proof::Contradicted => Cell::Styled("bad", "contradicted".into()),
            },
        ]);
    }
    t.finish(out);
}

fn exposure(out: &mut String, a: &Audit) {
    let exposed = a.exposure.iter().filter(|r| r.exposed && !r.entry).count();
    let _ = writeln!(
        out,
        "<h2>Exposure</h2>\n<p id=\"exposure\">{exposed} of {} components are reachable from the \
         internet beyond the entry point. Each was flooded on its port in a run of its own.</p>",
        a.exposure.len()
    );
    let mut t = Table::new(
        "exposure",
        &[
            "component",
            "port",
            "from the internet",
            "blocked by",
            "flood",
            "dropped at firewall",
            "clients' loss",
            "p99 ×",
            "proof",
        ],
    );
    for r in &a.exposure {
        let reach = match (r.entry, r.exposed) {
            (true, _) => Cell::Text("entry point".into()),
            (false, true) => Cell::Styled("bad", "exposed".into()),
            (false, false) => Cell::Styled("good", "blocked".into()),
        };
        let ran = r.proof.is_some();
        let num = |x: String| Cell::Num(if ran { x } else { "—".into() });
        t.row(&[
            Cell::Text(r.component.clone()),
            Cell::Num(r.port.to_string()),
            reach,
            Cell::Text(listed(&r.blocked_by)),
            num(format!("{:.0}/s", r.flood_per_s)),
            num(r.flood_dropped_at_firewall.to_string()),
            num(format!("{:.3}", r.measured_loss)),
            num(format!("{:.2}", r.p99_ratio)),
            match r.proof {
                Some(Proof::Confirmed) => Cell::Styled("good", "confirmed".into()),
                Some(Proof::Contradicted) => Cell::Styled("bad", "contradicted".into()),
                None => Cell::Text("—".into()),
            },
        ]);
    }
    t.finish(out);
}

fn hops(out: &mut String, a: &Audit) {
    let (plain, internet) = crate::output::plain_hops(&a.summary);
    let _ = writeln!(
        out,
        "<h2>Unencrypted hops</h2>\n<p id=\"hops\">{plain} of {} hops carry user data in the \
         clear, {internet} of them across the internet. The baseline run counts what each \
         carried.</p>",
        a.hops.len()
    );
    let mut t = Table::new(
        "hops",
        &[
            "from",
            "to",
            "carries",
            "protocol",
            "encrypted",
            "zones",
            "carried",
            "proof",
        ],
    );
    for h in &a.hops {
        let (word, style) = crate::output::hop_verdict(h);
        let enc = Cell::Styled(style, word.into());
        t.row(&[
            Cell::Text(h.from.clone()),
            Cell::Text(h.to.clone()),
            Cell::Text(h.carries.clone()),
            Cell::Text(h.protocol.clone()),
            enc,
            Cell::Text(listed(&h.zones)),
            Cell::Num(h.carried.to_string()),
            match h.proof {
                Some(_) => Cell::Styled("good", "confirmed".into()),
                None => Cell::Text("—".into()),
            },
        ]);
    }
    t.finish(out);
}

fn remedies(out: &mut String, remedies: &[infrasim::audit::Remedy]) {
    out.push_str("<h2>Remedies, ranked by measured gain</h2>\n");
    let mut t = Table::new(
        "remedies",
        &[
            "rank",
            "design",
            "availability",
            "gain",
            "p99 change",
            "lost writes change",
            "single points removed",
            "kept",
            "added",
        ],
    );
    for (i, r) in remedies.iter().enumerate() {
        let gain = match &r.availability_gain_ci {
            Some(ci) if ci.half_width.is_finite() => format!(
                "{:+.4} % ± {:.4} %",
                r.availability_gain * 100.0,
                ci.half_width * 100.0
            ),
            _ => format!("{:+.4} %", r.availability_gain * 100.0),
        };
        t.row(&[
            Cell::Num((i + 1).to_string()),
            Cell::Text(r.scenario.clone()),
            Cell::Num(pct(r.availability)),
            Cell::Num(gain),
            Cell::Num(format!("{:+.2} ms", r.p99_change_ms)),
            Cell::Num(format!("{:+}", r.lost_writes_change)),
            Cell::Styled("good", listed(&r.spofs_removed)),
            Cell::Styled("bad", listed(&r.spofs_kept)),
            Cell::Styled("bad", listed(&r.spofs_added)),
        ]);
    }
    t.finish(out);
}

/// Names joined by commas, or — for none.
fn listed(v: &[String]) -> String {
    if v.is_empty() {
        "—".to_string()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_what_html_would_read_as_markup() {
        assert_eq!(
            esc("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }
}

//! Human-readable output: a summary a person reads in ten seconds, and comparison tables.

use std::fmt::Write as _;
use std::path::Path;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};
use infrasim::Report;
use infrasim::compare::{Comparison, Seeds};
use infrasim::engine::stats::ConfidenceInterval;

fn pct(x: f64) -> String {
    format!("{:.4}%", x * 100.0)
}

fn ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.2}s", x / 1000.0)
    } else {
        format!("{x:.2}ms")
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().map(Cell::new));
    t
}

fn right(t: &mut Table, from: usize) {
    for i in from..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// The run summary.
pub fn summary(r: &Report, file: &Path) -> String {
    let mut out = String::new();
    headline(&mut out, r, file);
    classes(&mut out, r);
    failures(&mut out, r);
    components(&mut out, r);
    database(&mut out, r);
    attacks(&mut out, r);
    connections(&mut out, r);
    faults(&mut out, r);
    operations(&mut out, r);
    outages(&mut out, r);
    confidence(&mut out, r);
    out
}

/// What ran, and the headline figures.
fn headline(out: &mut String, r: &Report, file: &Path) {
    let _ = writeln!(
        out,
        "{} — {} (seed {}, {} replication(s), {:.0} s measured each, {} events)",
        r.scenario,
        file.display(),
        r.seed,
        r.replications,
        r.simulated_seconds,
        r.events
    );
    let _ = writeln!(
        out,
        "availability {} (requests), {} (time, windows), throughput {:.1}/s, p99 {}",
        pct(r.availability),
        pct(r.time_availability),
        r.throughput_per_s,
        ms(r.latency_ms.p99_ms)
    );
}

/// Requests and latency, overall and per class.
fn classes(out: &mut String, r: &Report) {
    let mut t = table(&[
        "class",
        "offered",
        "succeeded",
        "failed",
        "availability",
        "mean",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
    ]);
    let rows = std::iter::once((
        "all".to_string(),
        r.requests.offered,
        r.requests.succeeded,
        r.requests.failed_total(),
        r.availability,
        &r.latency_ms,
    ))
    .chain(r.classes.iter().map(|(n, c)| {
        (
            n.clone(),
            c.offered,
            c.succeeded,
            c.failed.values().sum(),
            c.availability,
            &c.latency_ms,
        )
    }));
    for (name, off, ok, failed, avail, l) in rows {
        if off == 0 {
            continue;
        }
        t.add_row(vec![
            name,
            off.to_string(),
            ok.to_string(),
            failed.to_string(),
            pct(avail),
            ms(l.mean_ms),
            ms(l.p50_ms),
            ms(l.p90_ms),
            ms(l.p99_ms),
            ms(l.p999_ms),
            ms(l.max_ms),
        ]);
    }
    right(&mut t, 1);
    let _ = writeln!(out, "{t}");
}

/// Failures by reason, and requests still in flight.
fn failures(out: &mut String, r: &Report) {
    let failed: Vec<String> = r
        .requests
        .failed
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "failures: {}", failed.join(", "));
    }
    if r.requests.in_flight > 0 {
        let _ = writeln!(out, "still in flight at the end: {}", r.requests.in_flight);
    }
}

/// Each component's load.
fn components(out: &mut String, r: &Report) {
    let mut t = table(&[
        "component",
        "kind",
        "utilization",
        "mean queue",
        "max queue",
        "served",
        "rejected",
    ]);
    for (name, c) in &r.components {
        t.add_row(vec![
            name.clone(),
            c.kind.clone(),
            pct(c.utilization),
            format!("{:.2}", c.mean_queue),
            c.max_queue.to_string(),
            c.served.to_string(),
            c.rejected.to_string(),
        ]);
    }
    right(&mut t, 2);
    let _ = writeln!(out, "{t}");
}

/// The database tier.
fn database(out: &mut String, r: &Report) {
    if let Some(db) = &r.database {
        let _ = writeln!(
            out,
            "database: lost writes {}, stale reads {} ({:.3}%), read-your-writes violations {}, lag mean {} p99 {} max {}, failovers {}",
            db.lost_writes,
            db.stale_reads,
            db.stale_read_ratio * 100.0,
            db.read_your_writes_violations,
            ms(db.replication_lag_ms.mean),
            ms(db.replication_lag_ms.p99),
            ms(db.replication_lag_ms.max),
            db.failovers
        );
        for f in &db.failover_list {
            let lost = &f.lost_writes;
            let mut line = format!(
                "  failover {} at {:.1} s: {} -> {} ({}{}), write outage {:.1} s, lost writes: not received {}, discarded at promotion {}, split brain {}",
                f.cluster,
                f.promoted_at_s,
                f.old_primary,
                f.promoted,
                f.policy,
                if f.old_primary_down {
                    ""
                } else {
                    ", old primary alive: false failover"
                },
                f.write_outage_s,
                lost.not_received,
                lost.discarded_at_promotion,
                lost.split_brain
            );
            if f.divergent_keys > 0 {
                let _ = write!(line, ", divergent keys {}", f.divergent_keys);
            }
            if !f.lost_replicas.is_empty() {
                let _ = write!(line, ", lost replicas {}", f.lost_replicas.join(" "));
            }
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Each attack's traffic (never counted as requests) and each firewall's drops.
fn attacks(out: &mut String, r: &Report) {
    if !r.attacks.is_empty() {
        let mut t = table(&[
            "attack",
            "kind",
            "offered",
            "dropped: firewall",
            "conntrack full",
            "target's kernel",
            "rate limited",
            "other failures",
            "served",
        ]);
        for (name, a) in &r.attacks {
            let limited = a.failed.get("rate_limited").copied().unwrap_or(0);
            let other: u64 = a.failed.values().sum::<u64>() - limited;
            t.add_row(vec![
                name.clone(),
                a.kind.clone(),
                a.offered.to_string(),
                (a.dropped.firewall + a.dropped.firewall_down).to_string(),
                a.dropped.conntrack_full.to_string(),
                a.dropped.backlog.to_string(),
                limited.to_string(),
                other.to_string(),
                if a.kind == "syn_flood" {
                    format!("{} queued, {} cookies", a.syn_queued, a.syn_cookies)
                } else {
                    a.served.to_string()
                },
            ]);
        }
        right(&mut t, 2);
        let _ = writeln!(out, "attacks (not counted as requests):\n{t}");
    }
    for (name, f) in &r.firewalls {
        let _ = writeln!(
            out,
            "firewall {name}: {} new flows, {} denied, {} dropped with conntrack full ({} early drops), {} lost while down, conntrack peak {}",
            f.new_flows, f.denied, f.conntrack_full, f.early_drops, f.down_drops, f.conntrack_peak
        );
    }
}

/// Keep-alive connections, and each load balancer's handshakes and CPU by kind of work.
fn connections(out: &mut String, r: &Report) {
    let Some(c) = &r.connections else {
        return;
    };
    let closed: Vec<String> = crate::output::nonzero_counts(&c.closed);
    let _ = writeln!(
        out,
        "connections: {} opened, {:.2} requests each; first request mean {} p99 {}, reused mean {} p99 {}; closed: {}",
        c.opened,
        c.requests_per_connection,
        ms(c.first_request_latency_ms.mean_ms),
        ms(c.first_request_latency_ms.p99_ms),
        ms(c.reused_latency_ms.mean_ms),
        ms(c.reused_latency_ms.p99_ms),
        if closed.is_empty() {
            "none".to_string()
        } else {
            closed.join(", ")
        }
    );
    let mut t = table(&[
        "load balancer",
        "connections",
        "full handshakes",
        "resumed",
        "CPU: full",
        "CPU: resumed",
        "CPU: connections",
        "CPU: requests",
        "CPU: TLS requests",
    ]);
    for (name, l) in &c.load_balancers {
        let cpu = |k: &str| pct(l.cpu_utilization.get(k).copied().unwrap_or(0.0));
        t.add_row(vec![
            name.clone(),
            l.accepted.to_string(),
            l.handshakes.full.to_string(),
            format!(
                "{} ({:.1}%)",
                l.handshakes.resumed,
                l.handshakes.resumption_ratio * 100.0
            ),
            cpu("full_handshakes"),
            cpu("resumed_handshakes"),
            cpu("connections"),
            cpu("requests"),
            cpu("tls_requests"),
        ]);
    }
    right(&mut t, 1);
    let _ = writeln!(out, "{t}");
}

/// Each fault occurrence and what it cost.
fn faults(out: &mut String, r: &Report) {
    if !r.faults.is_empty() {
        let mut t = table(&[
            "fault",
            "target",
            "injected",
            "detected",
            "by",
            "recovered",
            "downtime",
            "failed req",
            "lost writes",
        ]);
        // A long run with random failures has hundreds: the first ones tell the story.
        for f in r.faults.iter().take(FAULT_ROWS) {
            t.add_row(vec![
                f.fault.clone(),
                f.target.clone(),
                format!("{:.3}s", f.injected_at_s),
                f.detected_at_s.map_or("-".into(), |d| {
                    format!("{d:.3}s (+{:.3}s)", d - f.injected_at_s)
                }),
                f.detected_by.clone().unwrap_or_else(|| "-".into()),
                f.recovered_at_s
                    .map_or("never".into(), |d| format!("{d:.3}s")),
                format!("{:.0}s", f.downtime_s),
                f.failed_requests.to_string(),
                f.lost_writes.to_string(),
            ]);
        }
        let _ = writeln!(out, "{t}");
        if r.faults.len() > FAULT_ROWS {
            let _ = writeln!(
                out,
                "… {} more fault occurrences (all in the JSON report)",
                r.faults.len() - FAULT_ROWS
            );
        }
    }
}

/// Fault occurrences shown in the summary.
const FAULT_ROWS: usize = 40;

/// What the monitoring and the on-call person did: from failure to alert, page,
/// acknowledgment and repair, over every replication.
fn operations(out: &mut String, r: &Report) {
    let Some(o) = &r.operations else {
        return;
    };
    let _ = writeln!(
        out,
        "monitoring: {} — {} failures, {} paged before they ended, {:.1} pages and {:.0} s of \
         unnoticed failure per replication",
        o.system, o.failures, o.noticed, o.pages, o.unnoticed_s
    );
    let mut t = table(&["from a failure to", "n", "mean", "p50", "p90", "max"]);
    for (what, d) in [
        ("its alert", &o.time_to_detect_s),
        ("the page", &o.time_to_notify_s),
        ("acknowledged", &o.time_to_acknowledge_s),
        ("repaired", &o.time_to_repair_s),
    ] {
        if let Some(d) = d {
            t.add_row(vec![
                what.to_string(),
                d.n.to_string(),
                format!("{:.0}s", d.mean),
                format!("{:.0}s", d.p50),
                format!("{:.0}s", d.p90),
                format!("{:.0}s", d.max),
            ]);
        }
    }
    right(&mut t, 1);
    let _ = writeln!(out, "{t}");
}

/// The first outages.
fn outages(out: &mut String, r: &Report) {
    if !r.outages.is_empty() {
        let shown: Vec<String> = r
            .outages
            .iter()
            .take(12)
            .map(|o| {
                format!(
                    "{}: {:.0}s–{:.0}s ({})",
                    o.class, o.start_s, o.end_s, o.cause
                )
            })
            .collect();
        let more = r.outages.len().saturating_sub(12);
        let _ = writeln!(
            out,
            "outages: {}{}",
            shown.join("; "),
            if more > 0 {
                format!("; … {more} more")
            } else {
                String::new()
            }
        );
    }
}

/// Confidence intervals over replications.
fn confidence(out: &mut String, r: &Report) {
    if !r.confidence.is_empty() {
        let a = &r.confidence["availability"];
        let _ = writeln!(
            out,
            "95% CI over replications: availability {}",
            ci_text(a, true)
        );
        if let Some(p) = r.confidence.get("latency_ms.p99") {
            let _ = writeln!(out, "                          p99 {}", ci_text(p, false));
        }
    }
}

fn ci_text(c: &ConfidenceInterval, percent: bool) -> String {
    if percent {
        format!("{} ± {}", pct(c.mean), pct(c.half_width))
    } else {
        format!("{} ± {}", ms(c.mean), ms(c.half_width))
    }
}

/// Metrics compared by `infrasim compare`: (label, key in `confidence`, is a percentage).
const COMPARED: [(&str, &str, bool); 9] = [
    ("availability", "availability", true),
    ("time availability", "time_availability", true),
    ("read availability", "classes.read.availability", true),
    ("write availability", "classes.write.availability", true),
    ("mean latency", "latency_ms.mean", false),
    ("p99 latency", "latency_ms.p99", false),
    ("throughput/s", "throughput_per_s", false),
    ("downtime (s)", "downtime_s", false),
    ("lost writes", "database.lost_writes", false),
];

/// Side-by-side table of key metrics with 95 % CIs, then each scenario's difference from
/// the first with the 95 % CI of the paired replications' differences; `*` marks a
/// difference whose interval excludes 0.
pub fn comparison(names: &[String], comparison: &Comparison, seeds: Seeds) -> String {
    let reports = &comparison.reports;
    let mut header = vec!["metric".to_string()];
    header.extend(names.iter().cloned());
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(header);
    for (label, key, percent) in COMPARED {
        if !reports[0].confidence.contains_key(key) {
            continue;
        }
        let mut row = vec![label.to_string()];
        for r in reports {
            row.push(
                r.confidence
                    .get(key)
                    .map_or("-".into(), |c| metric_text(key, percent, c)),
            );
        }
        t.add_row(row);
    }
    right(&mut t, 1);
    let mut d = Table::new();
    d.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec![format!("difference from {}", names[0])];
    header.extend(names.iter().skip(1).cloned());
    d.set_header(header);
    for (label, key, percent) in COMPARED {
        let cells: Vec<Option<&ConfidenceInterval>> = comparison
            .differences
            .iter()
            .skip(1)
            .map(|m| m.get(key))
            .collect();
        if cells.iter().all(Option::is_none) {
            continue;
        }
        let mut row = vec![label.to_string()];
        for c in cells {
            row.push(c.map_or("-".into(), |c| {
                let text = metric_text(key, percent, c);
                if c.low > 0.0 || c.high < 0.0 {
                    format!("{text} *")
                } else {
                    text
                }
            }));
        }
        d.add_row(row);
    }
    right(&mut d, 1);
    let seeds = match seeds {
        Seeds::Common => "common random numbers (every scenario replication r with the same seed)",
        Seeds::Independent => "independent seeds per scenario",
    };
    format!(
        "{t}\n{d}\n{} replication(s) each, {seeds}; differences from paired replications; * = 95% CI excludes 0\n",
        reports[0].replications
    )
}

/// A metric's `mean ± half-width`, in its unit.
fn metric_text(key: &str, percent: bool, c: &ConfidenceInterval) -> String {
    if key == "throughput_per_s" || key == "downtime_s" || key.starts_with("database") {
        format!("{:.2} ± {:.2}", c.mean, c.half_width)
    } else {
        ci_text(c, percent)
    }
}

/// The SPOF audit table.
pub fn audit(
    name: &str,
    crash: infrasim::engine::SimDuration,
    audit: &infrasim::audit::Audit,
) -> String {
    let mut t = table(&[
        "crashed",
        "kind",
        "availability",
        "read",
        "write",
        "static",
        "downtime",
        "single point of failure for",
    ]);
    for r in &audit.rows {
        let class = |c: &str| r.classes.get(c).map_or("-".to_string(), |a| pct(*a));
        t.add_row(vec![
            r.component.clone(),
            r.kind.clone(),
            pct(r.availability),
            class("read"),
            class("write"),
            class("static"),
            format!("{:.0}s", r.downtime_s),
            if r.spof_for.is_empty() {
                "-".to_string()
            } else {
                r.spof_for.join(", ")
            },
        ]);
    }
    right(&mut t, 2);
    let mut out = verdict(name, &audit.summary);
    let _ = write!(
        out,
        "\n{name}: each component crashed for {crash}, one at a time (same seed)\n{t}\n"
    );
    out.push_str(&findings(audit));
    out.push_str(&watches(audit));
    out.push_str(&exposure(audit));
    out.push_str(&hops(audit));
    if !audit.remedies.is_empty() {
        out.push_str(&remedies(name, &audit.remedies));
    }
    out
}

/// One line of the verdict: its page id, what it lists, the list, the separator, and what
/// it says when the list is empty.
pub(crate) struct VerdictLine<'a> {
    pub id: &'static str,
    pub what: &'static str,
    pub items: &'a [String],
    pub sep: &'static str,
    pub empty: &'static str,
    /// The page's style of the line: `good`, `warn` or `bad` for an empty list and for a
    /// list (all lines but the monitoring's are good empty and bad otherwise: a monitoring
    /// system is a warning, none at all bad).
    pub styles: (&'static str, &'static str),
}

impl VerdictLine<'_> {
    /// The page's style for what the line says.
    pub fn style(&self) -> &'static str {
        if self.items.is_empty() {
            self.styles.0
        } else {
            self.styles.1
        }
    }

    /// The list as written, or what the line says without one.
    pub fn list(&self) -> String {
        if self.items.is_empty() {
            self.empty.to_string()
        } else {
            self.items.join(self.sep)
        }
    }
}

/// The verdict's seven lines, for the terminal and the page alike.
pub(crate) fn verdict_lines(v: &infrasim::audit::Summary) -> [VerdictLine<'_>; 7] {
    let line = |id, what, items, sep, empty| VerdictLine {
        id,
        what,
        items,
        sep,
        empty,
        styles: ("good", "bad"),
    };
    [
        line(
            "v-spof",
            "Single points of failure",
            &v.single_points,
            ", ",
            "none",
        ),
        line(
            "v-exposed",
            "Exposed to the internet beyond the entry point",
            &v.exposed,
            ", ",
            "none",
        ),
        line(
            "v-plain-internet",
            "User data in the clear across the internet",
            &v.plain_on_the_internet,
            "; ",
            "none",
        ),
        line(
            "v-plain-inside",
            "User data in the clear inside the network",
            &v.plain_inside,
            "; ",
            "none",
        ),
        line(
            "v-blind",
            "Blind spots (no alert pages anyone)",
            &v.blind_spots,
            ", ",
            "none",
        ),
        VerdictLine {
            styles: ("bad", "warn"),
            ..line(
                "v-monitoring",
                "A single monitoring system (nothing pages while it is down)",
                &v.single_monitoring,
                ", ",
                "no monitoring system at all",
            )
        },
        line(
            "v-contradicted",
            "Findings the simulation contradicts",
            &v.contradicted,
            ", ",
            "none",
        ),
    ]
}

/// The verdict, a line each.
fn verdict(name: &str, v: &infrasim::audit::Summary) -> String {
    let mut out = format!("Verdict on {name} (each line proved by the runs below)\n");
    for l in verdict_lines(v) {
        let _ = writeln!(out, "  {}: {}", l.what, l.list());
    }
    out
}

/// Who is told when each component fails: the blind spots, each checked by its run.
fn watches(audit: &infrasim::audit::Audit) -> String {
    use infrasim::audit::Proof;
    let mut t = table(&[
        "component",
        "blind spot",
        "a person learns of it",
        "alerted by",
        "handled silently by",
        "in its run: paged after",
        "by",
        "proof",
    ]);
    for w in &audit.watches {
        t.add_row(vec![
            w.component.clone(),
            if w.blind_spot { "BLIND SPOT" } else { "-" }.to_string(),
            match w.expected.as_str() {
                "alert" => "from an alert".to_string(),
                "users" => "when users complain".to_string(),
                _ => "never".to_string(),
            },
            listed(&w.alerted_by),
            listed(&w.handled_by),
            w.noticed_after_s.map_or_else(
                || format!("never (watched {:.0}s)", w.watched_s),
                |s| format!("{s:.1}s"),
            ),
            w.noticed_by.clone().unwrap_or_else(|| "-".to_string()),
            match w.proof {
                Proof::Confirmed => "confirmed".to_string(),
                Proof::Contradicted => "CONTRADICTED".to_string(),
            },
        ]);
    }
    let blind = audit.watches.iter().filter(|w| w.blind_spot).count();
    format!(
        "\nBlind spots: {blind} of {} components page no one when they fail (each crashed for good, \
         with the scenario's monitoring, in its own run)\n{t}\n",
        audit.watches.len()
    )
}

/// What the internet reaches beyond the entry point, each checked by a flood on its port.
fn exposure(audit: &infrasim::audit::Audit) -> String {
    use infrasim::audit::Proof;
    let mut t = table(&[
        "component",
        "port",
        "from the internet",
        "blocked by",
        "flood in its run",
        "served",
        "dropped at firewall",
        "clients' loss",
        "p99 ×",
        "proof",
    ]);
    for r in &audit.exposure {
        let reach = match (r.entry, r.exposed) {
            (true, _) => "entry point",
            (false, true) => "EXPOSED",
            (false, false) => "blocked",
        };
        let ran = r.proof.is_some();
        let num = |x: String| if ran { x } else { "-".to_string() };
        t.add_row(vec![
            r.component.clone(),
            r.port.to_string(),
            reach.to_string(),
            listed(&r.blocked_by),
            num(format!("{:.0}/s", r.flood_per_s)),
            num(r.flood_served.to_string()),
            num(r.flood_dropped_at_firewall.to_string()),
            num(format!("{:.3}", r.measured_loss)),
            num(format!("{:.2}", r.p99_ratio)),
            match r.proof {
                Some(Proof::Confirmed) => "confirmed".to_string(),
                Some(Proof::Contradicted) => "CONTRADICTED".to_string(),
                None => "-".to_string(),
            },
        ]);
    }
    let exposed = audit
        .exposure
        .iter()
        .filter(|r| r.exposed && !r.entry)
        .count();
    format!(
        "\nExposure: {exposed} of {} components reachable from the internet beyond the entry point \
         (each flooded on its port in its own run; a finding holds if the flood hurts the clients \
         exactly when the component is exposed)\n{t}\n",
        audit.exposure.len()
    )
}

/// The hops that carry user data, and whether in the clear.
fn hops(audit: &infrasim::audit::Audit) -> String {
    let mut t = table(&[
        "from",
        "to",
        "carries",
        "protocol",
        "encrypted",
        "zones",
        "in its run: carried",
        "proof",
    ]);
    for h in &audit.hops {
        t.add_row(vec![
            h.from.clone(),
            h.to.clone(),
            h.carries.clone(),
            h.protocol.clone(),
            hop_verdict(h).0.to_string(),
            listed(&h.zones),
            h.carried.to_string(),
            if h.proof.is_some() { "confirmed" } else { "-" }.to_string(),
        ]);
    }
    let (plain, internet) = plain_hops(&audit.summary);
    format!(
        "\nUnencrypted hops: {plain} of {} hops carry user data in the clear, {internet} of them \
         across the internet (the baseline run counts what each carried)\n{t}\n",
        audit.hops.len()
    )
}

/// How many hops carry user data in the clear, and how many of them across the internet
/// (the summary lists them).
pub(crate) fn plain_hops(v: &infrasim::audit::Summary) -> (usize, usize) {
    let internet = v.plain_on_the_internet.len();
    (internet + v.plain_inside.len(), internet)
}

/// A hop's protection in a word — `yes`, `NO — ON THE INTERNET` or `no` — with the page's
/// style for it.
pub(crate) fn hop_verdict(h: &infrasim::audit::Hop) -> (&'static str, &'static str) {
    match (h.encrypted, h.crosses_internet) {
        (true, _) => ("yes", "good"),
        (false, true) => ("NO — ON THE INTERNET", "bad"),
        (false, false) => ("no", "warn"),
    }
}

/// The candidate designs, ranked by measured availability gain.
fn remedies(name: &str, remedies: &[infrasim::audit::Remedy]) -> String {
    let mut t = table(&[
        "rank",
        "design",
        "availability",
        "gain",
        "p99 change",
        "lost writes change",
        "SPOFs removed",
        "SPOFs kept",
        "SPOFs added",
    ]);
    for (i, r) in remedies.iter().enumerate() {
        let gain = match &r.availability_gain_ci {
            Some(ci) if ci.half_width.is_finite() => format!(
                "{:+.4}% ± {:.4}%",
                r.availability_gain * 100.0,
                ci.half_width * 100.0
            ),
            _ => format!("{:+.4}%", r.availability_gain * 100.0),
        };
        t.add_row(vec![
            (i + 1).to_string(),
            r.scenario.clone(),
            pct(r.availability),
            gain,
            format!("{:+.2}ms", r.p99_change_ms),
            format!("{:+}", r.lost_writes_change),
            listed(&r.spofs_removed),
            listed(&r.spofs_kept),
            listed(&r.spofs_added),
        ]);
    }
    right(&mut t, 2);
    format!(
        "\nRemedies, ranked by measured availability gain over {name} (common random numbers; \
         ± = 95 % interval of the paired difference)\n{t}\n"
    )
}

/// The graph's findings, single points of failure first, each with the run that checks it.
fn findings(audit: &infrasim::audit::Audit) -> String {
    use infrasim::audit::Proof;
    let mut t = table(&[
        "component or link",
        "class",
        "graph says",
        "expected loss",
        "measured loss",
        "proof",
        "why",
    ]);
    for f in &audit.findings {
        let e = &f.exposure;
        t.add_row(vec![
            e.element.clone(),
            e.class.clone(),
            if e.is_spof() {
                "SINGLE POINT OF FAILURE".to_string()
            } else if e.expected_loss > 0.0 {
                "loses its share".to_string()
            } else {
                "redundant".to_string()
            },
            format!("{:.0}%", e.expected_loss * 100.0),
            format!("{:.0}%", f.measured_loss * 100.0),
            match f.proof {
                Proof::Confirmed => "confirmed".to_string(),
                Proof::Contradicted => "CONTRADICTED".to_string(),
            },
            e.reason.clone(),
        ]);
    }
    right(&mut t, 3);
    let spofs = audit.single_points().count();
    let contradicted = audit
        .findings
        .iter()
        .filter(|f| f.proof == Proof::Contradicted)
        .count();
    format!(
        "\nSingle points of failure, from the topology graph, each checked by its run \
         (loss = share of the class failed while the failure lasted): {spofs} found, \
         {contradicted} contradicted by the simulation\n{t}\n"
    )
}

/// Names joined by commas, or - for none.
fn listed(v: &[String]) -> String {
    if v.is_empty() {
        "-".to_string()
    } else {
        v.join(", ")
    }
}

/// The non-zero entries of a count map as "name count" (failures by reason, connections
/// closed by reason), in the map's order; the terminal and the page both list them so.
pub(crate) fn nonzero_counts<'a, K: std::fmt::Display + 'a>(
    counts: impl IntoIterator<Item = (&'a K, &'a u64)>,
) -> Vec<String> {
    counts
        .into_iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect()
}

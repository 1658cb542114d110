//! The time series as CSV and as an SVG chart (throughput, errors and p99 over time, fault
//! windows shaded). Hand-written SVG: no font files, identical bytes on every machine.

use std::fmt::Write as _;

use infrasim::report::TimeSeries;

/// One row per window.
pub fn csv(ts: &TimeSeries) -> String {
    let mut out = String::from("t_s,offered,succeeded,failed");
    for r in &ts.reasons {
        let _ = write!(out, ",failed_{r}");
    }
    // The lag as MySQL reports it (`Seconds_Behind_Source`), then the true lag beside it.
    out.push_str(",p50_ms,p99_ms,max_lag_ms,max_true_lag_ms");
    // Per-component columns exist only when the run kept them (at most 200 000 windows).
    let with_components = ts.rows.first().is_some_and(|r| !r.components.is_empty());
    for c in ts.component_names.iter().filter(|_| with_components) {
        let _ = write!(out, ",{c}_up,{c}_queue");
    }
    // With monitoring: the alerts that fired, and the pages sent, in each window.
    let with_alerts = !ts.alerts.is_empty();
    if with_alerts {
        out.push_str(",alerts_fired,pages");
    }
    out.push('\n');
    let in_window = |t: f64, start: f64| t >= start && t < start + ts.window_s;
    for row in &ts.rows {
        let failed: u64 = row.failed.iter().sum();
        let _ = write!(
            out,
            "{},{},{},{}",
            row.t_s, row.offered, row.succeeded, failed
        );
        for f in &row.failed {
            let _ = write!(out, ",{f}");
        }
        let _ = write!(
            out,
            ",{:.3},{:.3},{:.3},{:.3}",
            row.p50_ms, row.p99_ms, row.max_lag_ms, row.max_true_lag_ms
        );
        for (up, q) in &row.components {
            let _ = write!(out, ",{},{q}", u8::from(*up));
        }
        if with_alerts {
            let fired = ts.alerts.iter().filter(|a| in_window(a.0, row.t_s)).count();
            let paged = ts
                .alerts
                .iter()
                .filter(|a| a.1.is_some_and(|t| in_window(t, row.t_s)))
                .count();
            let _ = write!(out, ",{fired},{paged}");
        }
        out.push('\n');
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Three stacked panels sharing the time axis — successes and failures per second, p99
/// latency, the largest replication lag — with every fault interval shaded and labelled.
pub fn svg(ts: &TimeSeries, title: &str) -> String {
    let chart = Chart::new(ts);
    let mut out = String::new();
    chart.header(&mut out, title);
    chart.fault_shading(&mut out, &ts.faults);
    chart.alert_marks(&mut out, &ts.alerts);
    let series = series(ts);
    for (pi, &(top, height)) in PANELS.iter().enumerate() {
        chart.panel(&mut out, pi, top, height, &series);
    }
    chart.time_axis(&mut out);
    out.push_str("</svg>\n");
    out
}

/// Each panel's top and height.
const PANELS: [(f64, f64); 3] = [(60.0, 180.0), (275.0, 105.0), (415.0, 90.0)];

/// The page's geometry and the time axis shared by the panels.
struct Chart {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    t0: f64,
    t1: f64,
    window_s: f64,
}

impl Chart {
    fn new(ts: &TimeSeries) -> Chart {
        let t0 = ts.rows.first().map_or(0.0, |r| r.t_s);
        let t1 = ts
            .rows
            .last()
            .map_or(1.0, |r| r.t_s + ts.window_s)
            .max(t0 + 1e-9);
        Chart {
            w: 960.0,
            h: 560.0,
            left: 70.0,
            right: 20.0,
            t0,
            t1,
            window_s: ts.window_s,
        }
    }

    /// The x coordinate of time `t`.
    fn x(&self, t: f64) -> f64 {
        self.left + (t - self.t0) / (self.t1 - self.t0) * (self.w - self.left - self.right)
    }

    fn header(&self, out: &mut String, title: &str) {
        let (w, h, left) = (self.w, self.h, self.left);
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(out, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = writeln!(
            out,
            r##"<text x="{left}" y="22" font-size="15" font-weight="bold">{}</text>"##,
            esc(title)
        );
    }

    /// Fault intervals shaded across all panels, each labelled.
    fn fault_shading(&self, out: &mut String, faults: &[(f64, f64, String)]) {
        for (i, (a, b, label)) in faults.iter().enumerate() {
            let (xa, xb) = (self.x(a.max(self.t0)), self.x(b.min(self.t1)));
            if xb <= xa && b < &self.t0 {
                continue;
            }
            let _ = writeln!(
                out,
                r##"<rect x="{xa:.1}" y="40" width="{:.1}" height="{:.1}" fill="#f4a261" fill-opacity="0.18"/>"##,
                (xb - xa).max(1.0),
                self.h - 80.0
            );
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{}" fill="#b45309">{}</text>"##,
                xa + 3.0,
                74.0 + 12.0 * (i % 3) as f64,
                esc(label)
            );
        }
    }

    /// Alerts: a dashed red line where each fired, a triangle where it paged someone.
    fn alert_marks(&self, out: &mut String, alerts: &[(f64, Option<f64>, String)]) {
        for (i, (fired, paged, label)) in alerts.iter().enumerate() {
            if *fired < self.t0 || *fired > self.t1 {
                continue;
            }
            let x = self.x(*fired);
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="40" x2="{x:.1}" y2="{:.1}" stroke="#c0392b" stroke-dasharray="3,3"/>"##,
                self.h - 40.0
            );
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{}" fill="#c0392b">{}</text>"##,
                x + 3.0,
                self.h - 46.0 - 12.0 * (i % 3) as f64,
                esc(label)
            );
            if let Some(p) = paged.filter(|p| *p <= self.t1) {
                let xp = self.x(p);
                let _ = writeln!(
                    out,
                    r##"<path d="M{xp:.1},44 l-4,-7 h8 z" fill="#c0392b"><title>paged at {p:.0} s</title></path>"##
                );
            }
        }
    }

    /// Panel `pi`: its frame, its value axis, and the series drawn in it.
    fn panel(&self, out: &mut String, pi: usize, top: f64, height: f64, series: &[Series<'_>]) {
        let ymax = series
            .iter()
            .filter(|s| s.3 == pi)
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.1;
        let y = |v: f64| top + height - v / ymax * height;
        let (left, right, w) = (self.left, self.right, self.w);
        let _ = writeln!(
            out,
            r##"<rect x="{left}" y="{top}" width="{:.1}" height="{height}" fill="none" stroke="#999"/>"##,
            w - left - right
        );
        for k in 0..=4 {
            let v = ymax * f64::from(k) / 4.0;
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
                left - 4.0,
                y(v) + 4.0,
                fmt_num(v)
            );
            let _ = writeln!(
                out,
                r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
                w - right,
                y(v),
                y(v)
            );
        }
        let mut legend_x = left + 8.0;
        for (name, pts, color, panel) in series {
            if *panel != pi {
                continue;
            }
            let d = self.path(pts, &y);
            let _ = writeln!(
                out,
                r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.5"/>"#
            );
            let _ = writeln!(
                out,
                r#"<text x="{legend_x:.1}" y="{:.1}" fill="{color}" font-weight="bold">{name}</text>"#,
                top - 5.0
            );
            legend_x += 200.0;
        }
    }

    /// A line through the points (at each window's middle), with a gap where a value is
    /// missing.
    fn path(&self, pts: &[(f64, f64)], y: &impl Fn(f64) -> f64) -> String {
        let mut d = String::new();
        let mut pen_down = false;
        for (t, v) in pts {
            if !v.is_finite() {
                pen_down = false;
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if pen_down { "L" } else { "M" },
                self.x(*t + self.window_s / 2.0),
                y(*v)
            );
            pen_down = true;
        }
        d
    }

    fn time_axis(&self, out: &mut String) {
        let bottom = self.h - 32.0;
        for k in 0..=8 {
            let t = self.t0 + (self.t1 - self.t0) * f64::from(k) / 8.0;
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{bottom}" text-anchor="middle" fill="#555">{}s</text>"##,
                self.x(t),
                fmt_num(t)
            );
        }
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">simulated time</text>"##,
            (self.left + self.w - self.right) / 2.0,
            self.h - 12.0
        );
    }
}

/// The lines drawn: successes and failures per second (panel 0), p99 latency (panel 1),
/// the largest replication lag (panel 2).
fn series(ts: &TimeSeries) -> [Series<'static>; 4] {
    let rows = &ts.rows;
    let per_s = |n: u64| n as f64 / ts.window_s;
    [
        (
            "successes/s",
            rows.iter().map(|r| (r.t_s, per_s(r.succeeded))).collect(),
            "#2a9d8f",
            0,
        ),
        (
            "failures/s",
            rows.iter()
                .map(|r| (r.t_s, per_s(r.failed.iter().sum())))
                .collect(),
            "#e63946",
            0,
        ),
        (
            "p99 latency of successes (ms)",
            // A window without successes has no latency: a gap, not a zero.
            rows.iter()
                .map(|r| (r.t_s, if r.succeeded == 0 { f64::NAN } else { r.p99_ms }))
                .collect(),
            "#264653",
            1,
        ),
        (
            "max replication lag (ms)",
            rows.iter().map(|r| (r.t_s, r.max_lag_ms)).collect(),
            "#6d597a",
            2,
        ),
    ]
}

/// A plotted line: (legend, points (time, value), colour, panel index).
type Series<'a> = (&'a str, Vec<(f64, f64)>, &'a str, usize);

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

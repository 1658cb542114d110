//! Failover as the managers do it (orchestrator: `RecoverDeadMaster`,
//! `InstanceBulkOperationsWaitTimeoutSeconds`, `RecoveryPeriodBlockSeconds`; MHA: apply every
//! relay log first), each against its formula: the promotion policies on a lagging
//! candidate, the most advanced replica chosen, split brain without fencing, the anti-flap
//! block, and semi-sync's return once a replica catches up.

use serde_json::{Value, json};

use crate::util::{crash, db_app, observe, run, within};
use infrasim::report::{Outage, Report};

/// `writes` per second only, straight to one app server; a primary and `replicas` replicas
/// (`db-r1`, …) with one 2 ms (exponential) applier each (μ = 500/s); automatic failover
/// (checks every 1 s, 3 failed, 2 s to promote, the manager's checks alone decide: no
/// replica agreement unless `failover` sets it); 100 ms windows.
fn cluster(writes: f64, replicas: usize, failover: Value, faults: Value) -> Value {
    let mut f = json!({"mode": "automatic", "check_interval": "1s", "failed_checks": 3,
        "promotion": "2s", "replica_agreement": false});
    for (k, v) in failover.as_object().unwrap() {
        f[k] = v.clone();
    }
    json!({
        "name": "failover",
        "duration": "90s",
        "warmup": "0s",
        "window": "100ms",
        "clients": {
            "target": "app",
            "arrival": {"poisson": {"rate": format!("{writes}/s")}},
            "mix": {"read": 0.0, "write": 1.0, "static": 0.0},
            "keys": {"count": 1000},
            "timeout": "15s"
        },
        "app_servers": [db_app("app", 256)],
        "databases": [{
            "name": "db",
            "primary": {"name": "db-primary", "workers": 64},
            "replicas": (1..=replicas).map(|i| json!({"name": format!("db-r{i}")}))
                .collect::<Vec<_>>(),
            "replication": {"apply": {"exponential": {"mean": "2ms"}}, "appliers": 1},
            "failover": f
        }],
        "faults": faults
    })
}

fn write_outages(r: &Report) -> Vec<&Outage> {
    r.outages.iter().filter(|o| o.class == "write").collect()
}

/// A lagging candidate: 800 writes/s against a replica applying 500/s (one worker of 2 ms),
/// so at the primary's host crash at 30 s the replica has received every write (N ≈ 24 000)
/// and applied ≈ 15 000. The crash coincides with a check: the manager declares the primary
/// dead at 32 s and starts the promotion at 34 s.
///
/// * orchestrator-like: it waits `InstanceBulkOperationsWaitTimeoutSeconds` = 10 s, until
///   44 s, for the candidate to apply, and discards the rest: ≈ N − μ·44 s writes lost as
///   "discarded at promotion"; the new primary takes writes at 44 s: the wait adds exactly
///   10 s.
/// * MHA-like: it applies everything: nothing is lost (beyond the λ·delay ≈ 0.4 never
///   received), and the new primary takes writes once the N writes are applied, at N/μ.
///
/// μ is measured from the candidate's applied count, not assumed: the applied position at
/// the deadline is the promoted data's.
#[test]
fn promotion_policies_on_a_lagging_candidate() {
    let faults = json!([crash("db-primary", 30.0, None, "host")]);
    let (o, lo) = observe(
        &cluster(800.0, 1, json!({"policy": "orchestrator"}), faults.clone()),
        51,
    );
    let (m, lm) = observe(&cluster(800.0, 1, json!({"policy": "mha"}), faults), 51);
    let (dor, dm) = (o.database.as_ref().unwrap(), m.database.as_ref().unwrap());
    let (to, tm) = (
        lo.times("db-r1", "promoted to primary"),
        lm.times("db-r1", "promoted to primary"),
    );
    let acked_before = |r: &Report| {
        let ts = r.timeseries.as_ref().unwrap();
        ts.rows
            .iter()
            .filter(|w| w.t_s < 29.95)
            .map(|w| w.succeeded)
            .sum::<u64>() as f64
    };
    let n = acked_before(&o);
    eprintln!(
        "N ≈ {n}; orchestrator: lost {:?}, promoted at {to:?}; MHA: lost {:?}, promoted at {tm:?}",
        dor.lost_writes_by_reason, dm.lost_writes_by_reason
    );
    assert_eq!((dor.failovers, dm.failovers), (1, 1));
    assert_eq!(to, [44.0]);
    // MHA's promotion at N/μ: μ = N / t_mha; orchestrator discards N − μ·44.
    let mu = n / tm[0];
    let expect = n - mu * 44.0;
    let discarded = dor.lost_writes_by_reason.discarded_at_promotion as f64;
    eprintln!("μ = {mu:.0}/s; discarded {discarded} (formula {expect:.0})");
    assert!((480.0..540.0).contains(&mu), "μ {mu}");
    assert!(within(discarded, expect, 0.1), "{discarded} vs {expect}");
    assert!(dor.lost_writes_by_reason.not_received <= 5);
    assert_eq!(dm.lost_writes_by_reason.discarded_at_promotion, 0);
    assert!(dm.lost_writes <= 5, "{}", dm.lost_writes);
}

/// The most advanced replica is promoted, whichever it is: the replica cut off from the
/// primary 5 s before its host dies has received less, so the other one is chosen; cut the
/// other one and the choice swaps. The one not chosen is re-pointed to the new primary,
/// fetches its backlog from it and catches up.
#[test]
fn the_most_advanced_replica_is_promoted() {
    for (behind, expect) in [("db-r1", "db-r2"), ("db-r2", "db-r1")] {
        let v = cluster(
            300.0,
            2,
            json!({}),
            json!([
                {"partition": {"a": "db-primary", "b": behind, "at": "15s", "duration": "60s"}},
                crash("db-primary", 20.0, None, "host")
            ]),
        );
        let (r, log) = observe(&v, 52);
        let promoted: Vec<&str> = log
            .changes
            .iter()
            .filter(|(_, _, w)| w == "promoted to primary")
            .map(|(_, c, _)| c.as_str())
            .collect();
        let d = r.database.as_ref().unwrap();
        eprintln!(
            "{behind} behind: promoted {promoted:?}, lost {}",
            d.lost_writes
        );
        assert_eq!(promoted, [expect]);
        // Lost: only what the chosen replica had not received (≈ 0).
        assert!(d.lost_writes <= 3, "{}", d.lost_writes);
        // The other replica follows the new primary: its lag is back to milliseconds.
        let ts = r.timeseries.as_ref().unwrap();
        let late = ts.rows.iter().find(|w| w.t_s > 80.0).unwrap();
        assert!(late.max_true_lag_ms < 500.0, "{}", late.max_true_lag_ms);
    }
}

/// Split brain. The primary's process dies at 20 s and returns at 30 s; the replica was
/// promoted at 25 s, and the old primary holds errant transactions (the writes of its last
/// 20 ms that never left: `delay` 20 ms). Without fencing it restarts writable and a
/// ProxySQL-like router that sees `read_only` = 0 on both sends it every other write until it
/// is rebuilt 20 s later: ≈ 500/2 × 20 = 5 000 split-brain writes, nearly all 1 000 keys
/// divergent, and all of them lost when it is rebuilt. Fenced with `read_only` (the default)
/// or STONITH: none.
#[test]
fn split_brain_without_fencing_and_none_with_it() {
    let case = |fencing: &str| {
        let mut v = cluster(
            500.0,
            1,
            json!({"fencing": fencing, "rebuild_time": "20s"}),
            json!([crash("db-primary", 20.0, Some(10.0), "process")]),
        );
        v["databases"][0]["replication"]["delay"] = json!({"constant": "20ms"});
        v["databases"][0]["replication"]["appliers"] = json!(4);
        run(&v, 53, 1)
    };
    for fencing in ["none", "read-only", "stonith"] {
        let r = case(fencing);
        let d = r.database.as_ref().unwrap();
        eprintln!(
            "{fencing}: split-brain writes {}, divergent keys {}, lost {:?}",
            d.split_brain_writes, d.divergent_keys, d.lost_writes_by_reason
        );
        assert_eq!(d.failovers, 1);
        assert!(d.lost_writes_by_reason.not_received > 0);
        if fencing == "none" {
            assert!(
                within(d.split_brain_writes as f64, 5000.0, 0.06),
                "{}",
                d.split_brain_writes
            );
            // 1 000 · (1 − e^(−4.97)) ≈ 993 distinct keys among ≈ 4 970 writes.
            assert!(d.divergent_keys > 980, "{}", d.divergent_keys);
            assert_eq!(d.lost_writes_by_reason.split_brain, d.split_brain_writes);
        } else {
            assert_eq!((d.split_brain_writes, d.divergent_keys), (0, 0));
            assert_eq!(d.lost_writes_by_reason.split_brain, 0);
        }
        let failed: u64 = r.classes["write"].failed.values().sum();
        // Writes fail only during the failover (≈ 5 s of 500/s).
        assert!(failed < 3500, "{fencing}: {failed} writes failed");
    }
}

/// orchestrator's anti-flap block: the primary dies at 20 s and is failed over; the new
/// primary dies at 40 s for 20 s. Within `RecoveryPeriodBlockSeconds` (3 600 s) there is no
/// second automatic failover: writes fail until it returns at 60 s. With a 10 s block the
/// second failover happens (the remaining replica is promoted 4 s later).
#[test]
fn recovery_period_block_stops_a_second_failover() {
    let faults = json!([
        crash("db-primary", 20.0, None, "process"),
        crash("db-r1", 40.0, Some(20.0), "process")
    ]);
    // A crash at a whole second coincides with a check: dead after the checks at 40 (the
    // crash's own instant), 41 and 42 s, promoted at 44 s.
    for (block, failovers, end) in [("3600s", 1, 60.0), ("10s", 2, 44.0)] {
        let r = run(
            &cluster(300.0, 2, json!({"recovery_block": block}), faults.clone()),
            54,
            1,
        );
        let d = r.database.as_ref().unwrap();
        let w = write_outages(&r);
        eprintln!(
            "block {block}: {} failovers, write outages {:?}",
            d.failovers,
            w.iter().map(|o| (o.start_s, o.end_s)).collect::<Vec<_>>()
        );
        assert_eq!(d.failovers, failovers);
        let last = w.last().unwrap();
        assert!(
            (last.end_s - end).abs() <= 0.2,
            "{block}: ends {}",
            last.end_s
        );
    }
}

/// Semi-sync falls back to async after `rpl_semi_sync_source_timeout` (10 s) of a partition
/// between the primary and its only replica, and returns to semi-sync once the replica has
/// caught up after the heal: a second partition later causes a second fallback (one, were it
/// still asynchronous).
#[test]
fn semi_sync_returns_once_a_replica_catches_up() {
    let mut v = cluster(
        200.0,
        1,
        json!({"mode": "none"}),
        json!([
            {"partition": {"a": "db-primary", "b": "db-r1", "at": "10s", "duration": "15s"}},
            {"partition": {"a": "db-primary", "b": "db-r1", "at": "60s", "duration": "15s"}}
        ]),
    );
    v["databases"][0]["replication"]["mode"] = json!("semi-sync");
    let r = run(&v, 55, 1);
    let d = r.database.as_ref().unwrap();
    eprintln!("fallbacks {}", d.semi_sync_fallbacks);
    assert_eq!(d.semi_sync_fallbacks, 2);
}

/// Detection with the replicas' agreement (orchestrator's DeadMaster: the master is
/// unreachable *and* its replicas lost it). A dead process closes its connections: the
/// replicas agree at once (the FIN arrives just after the check at 20 s) and the failover is
/// as fast as a check can make it (failed checks at 21, 22, 23 s, promoted at 25 s). A dead host is silent: the replicas notice only after
/// `replica_net_timeout` — 60 s at MySQL's default, so the promotion waits until ≈ 20 + 60 +
/// 2 + 2 = 84 s; with orchestrator's recommended 4 s, ≈ 28 s.
#[test]
fn replica_agreement_waits_for_the_replicas_to_lose_the_primary() {
    for (mode, net_timeout, expect) in [
        ("process", "60s", 25.0),
        ("host", "60s", 84.0),
        ("host", "4s", 28.0),
    ] {
        let mut v = cluster(
            300.0,
            2,
            json!({"replica_agreement": true}),
            json!([crash("db-primary", 20.0, None, mode)]),
        );
        v["databases"][0]["replication"]["net_timeout"] = json!(net_timeout);
        let (_, log) = observe(&v, 56);
        let promoted: Vec<f64> = ["db-r1", "db-r2"]
            .iter()
            .flat_map(|n| log.times(n, "promoted to primary"))
            .collect();
        eprintln!("{mode} crash, replica_net_timeout {net_timeout}: promoted at {promoted:?}");
        assert_eq!(promoted.len(), 1);
        assert!(
            (promoted[0] - expect).abs() <= 1.0,
            "{mode} {net_timeout}: {promoted:?}"
        );
    }
}

/// The new keys' bad values are typed errors naming the JSON path, the value and what was
/// expected; an unknown policy or fencing is a parse error naming the accepted ones.
#[test]
fn bad_replication_and_failover_values_are_named() {
    let mut v = cluster(100.0, 1, json!({}), json!([]));
    v["databases"][0]["replication"]["net_timeout"] = json!("0s");
    v["databases"][0]["failover"]["rebuild_time"] = json!("0s");
    v["clients"]["keys"]["read_own_writes"] = json!(1.5);
    let text = serde_json::to_string(&v).unwrap();
    let errors = match infrasim::scenario::parse(&text) {
        Err(infrasim::Error::Invalid(e)) => e,
        other => panic!("expected validation errors, got {other:?}"),
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    eprintln!("{errors:#?}");
    assert_eq!(
        paths,
        [
            "clients.keys.read_own_writes",
            "databases[0].replication.net_timeout",
            "databases[0].failover.rebuild_time"
        ]
    );
    assert!(errors[0].found.contains("1.5"));
    let mut v = cluster(100.0, 1, json!({"policy": "patroni"}), json!([]));
    let e = infrasim::scenario::parse(&serde_json::to_string(&v).unwrap()).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains("patroni") && shown.contains("orchestrator") && shown.contains("mha"),
        "{shown}"
    );
    v["databases"][0]["failover"]["policy"] = json!("mha");
    v["databases"][0]["failover"]["fencing"] = json!("shoot");
    let shown = infrasim::scenario::parse(&serde_json::to_string(&v).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        shown.contains("stonith") && shown.contains("read-only"),
        "{shown}"
    );
    // The manager's name is a component name like any other: unique, and not "clients".
    for (name, found) in [("db-r1", "\"db-r1\""), ("clients", "\"clients\"")] {
        let v = cluster(100.0, 1, json!({"manager": name}), json!([]));
        let errors = match infrasim::scenario::parse(&serde_json::to_string(&v).unwrap()) {
            Err(infrasim::Error::Invalid(e)) => e,
            other => panic!("expected validation errors, got {other:?}"),
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "databases[0].failover.manager");
        assert_eq!(errors[0].found, found);
    }
}

/// The manager has a place in the network (`failover.manager`): a partition between it and
/// the primary alone, from 20 s to 50 s, leaves the primary serving and its replicas
/// replicating.
///
/// * With replica agreement (the orchestrator-like default): the manager reaches the
///   replicas and they still replicate — orchestrator's UnreachableMaster, not DeadMaster:
///   no failover, nothing lost, no split brain.
/// * Without (MHA-like checks, or agreement off): three failed checks (20–22 s: the
///   partition starts before the check at 20 s) and the 2 s promotion: a replica is
///   promoted at 24 s while the old primary is still up and
///   writable. `read_only` fencing acts at a restart that never comes, so a router that
///   finds two writable nodes alternates writes between them: about half of the writes from
///   24 s until the old primary is rebuilt (here `rebuild_time` 40 s, at 64 s) land on it
///   (split brain), and are lost when it is rebuilt. STONITH powers it off instead: no
///   split-brain write.
#[test]
fn a_primary_cut_off_from_the_manager_alone_is_failed_over_only_without_agreement() {
    let rate = 300.0;
    let faults = json!([{ "partition": { "a": "orch", "b": "db-primary", "at": "20s", "duration": "30s" } }]);
    let go = |failover: Value| {
        let mut f = json!({"manager": "orch", "rebuild_time": "40s"});
        for (k, v) in failover.as_object().unwrap() {
            f[k] = v.clone();
        }
        let mut v = cluster(rate, 2, f, faults.clone());
        if failover.get("replica_agreement").is_none() {
            // The policy's default (orchestrator-like: on).
            let f = v["databases"][0]["failover"].as_object_mut().unwrap();
            f.remove("replica_agreement");
        }
        observe(&v, 57)
    };
    let promoted = |log: &crate::util::Log| -> Vec<f64> {
        ["db-r1", "db-r2"]
            .iter()
            .flat_map(|n| log.times(n, "promoted to primary"))
            .collect()
    };
    // Agreement (default for the orchestrator policy): no failover at all.
    let (r, log) = go(json!({}));
    let d = r.database.as_ref().unwrap();
    eprintln!(
        "agreement: failovers {} lost {} split brain {}",
        d.failovers, d.lost_writes, d.split_brain_writes
    );
    assert!(promoted(&log).is_empty());
    assert_eq!(
        (d.failovers, d.lost_writes, d.split_brain_writes),
        (0, 0, 0)
    );
    assert!(write_outages(&r).is_empty());

    // No agreement: a false failover, and split brain with read-only fencing.
    let (r, log) = go(json!({"replica_agreement": false}));
    let d = r.database.as_ref().unwrap();
    let at = promoted(&log);
    let expected = 0.5 * rate * 40.0;
    eprintln!(
        "no agreement: promoted at {at:?}, split-brain writes {} (≈ {expected}), lost {:?}, divergent keys {}",
        d.split_brain_writes, d.lost_writes_by_reason, d.divergent_keys
    );
    assert_eq!(at.len(), 1);
    assert!((at[0] - 24.0).abs() <= 0.1, "{at:?}");
    assert_eq!(d.failovers, 1);
    assert!(
        within(d.split_brain_writes as f64, expected, 0.1),
        "split-brain writes {} vs {expected}",
        d.split_brain_writes
    );
    assert_eq!(d.lost_writes_by_reason.split_brain, d.split_brain_writes);
    assert!(d.divergent_keys > 0);
    assert!(
        d.lost_writes_by_reason.not_received + d.lost_writes_by_reason.discarded_at_promotion <= 10,
        "the replicas were replicating until the promotion: {:?}",
        d.lost_writes_by_reason
    );
    assert_eq!(log.times("db-primary", "writable (split brain)").len(), 1);

    // No agreement, STONITH: the old primary is powered off at the promotion.
    let (r, log) = go(json!({"replica_agreement": false, "fencing": "stonith"}));
    let d = r.database.as_ref().unwrap();
    eprintln!(
        "stonith: promoted at {:?}, split brain {}",
        promoted(&log),
        d.split_brain_writes
    );
    assert_eq!(promoted(&log).len(), 1);
    assert_eq!((d.split_brain_writes, d.divergent_keys), (0, 0));
}

/// A real crash of the primary is failed over with and without agreement (a dead process:
/// the replicas agree at once), the manager placed or not.
#[test]
fn a_real_crash_is_failed_over_with_and_without_agreement() {
    for agreement in [true, false] {
        let f = json!({"manager": "orch", "replica_agreement": agreement});
        let v = cluster(
            300.0,
            2,
            f,
            json!([crash("db-primary", 20.0, None, "process")]),
        );
        let (r, log) = observe(&v, 58);
        let at: Vec<f64> = ["db-r1", "db-r2"]
            .iter()
            .flat_map(|n| log.times(n, "promoted to primary"))
            .collect();
        eprintln!("agreement {agreement}: promoted at {at:?}");
        assert_eq!(at.len(), 1);
        assert!((at[0] - 25.0).abs() <= 1.0, "{at:?}");
        assert_eq!(r.database.as_ref().unwrap().failovers, 1);
    }
}

/// `rejoin_errant`: the primary is cut off from its replica at 20 s (its writes of the next
/// 10 s are acknowledged, asynchronously, and never received) and its host dies at 30 s,
/// back at 40 s. A replica is promoted at 34 s (checks alone: 30, 31, 32 s, then 2 s): the
/// n writes since 20 s are lost, "not received" — and they are the old primary's errant
/// transactions.
///
/// * Default: the old primary stays out until rebuilt (30 min here: never), so nothing
///   diverges.
/// * `rejoin_errant`: it rejoins as a replica of the new primary at once, its errant writes
///   still in its data: with n writes on K keys drawn uniformly, K·(1 − e^(−n/K)) keys
///   differ from the new primary's (`divergent_keys`). The per-failover list carries the
///   same figures.
#[test]
fn rejoin_errant_keeps_the_errant_writes_as_divergent_keys() {
    let go = |rejoin: bool| {
        let f = json!({"rejoin_errant": rejoin});
        let faults = json!([
            { "partition": { "a": "db-primary", "b": "db-r1", "at": "20s", "duration": "15s" } },
            crash("db-primary", 30.0, Some(10.0), "host")
        ]);
        observe(&cluster(300.0, 1, f, faults), 59)
    };
    let (kept_out, _) = go(false);
    let (rejoined, log) = go(true);
    let (a, b) = (
        kept_out.database.as_ref().unwrap(),
        rejoined.database.as_ref().unwrap(),
    );
    let n = b.lost_writes_by_reason.not_received as f64;
    let k = 1000.0;
    let expected = k * (1.0 - infrasim_engine::math::exp(-n / k));
    eprintln!(
        "errant writes n = {n}: kept out → divergent {}, rejoined → divergent {} (formula {expected:.0}); promoted at {:?}",
        a.divergent_keys,
        b.divergent_keys,
        log.times("db-r1", "promoted to primary")
    );
    assert!((2700.0..3300.0).contains(&n), "≈ 300/s × 10 s: {n}");
    assert_eq!(a.lost_writes_by_reason, b.lost_writes_by_reason);
    assert_eq!(a.divergent_keys, 0);
    assert!(
        within(b.divergent_keys as f64, expected, 0.03),
        "{} vs {expected}",
        b.divergent_keys
    );
    // The per-failover list.
    assert_eq!(b.failover_list.len(), 1);
    let f = &b.failover_list[0];
    eprintln!("{f:?}");
    assert_eq!(
        (f.old_primary.as_str(), f.promoted.as_str()),
        ("db-primary", "db-r1")
    );
    assert_eq!(f.policy, "orchestrator");
    assert!(f.old_primary_down);
    assert_eq!(f.lost_writes, b.lost_writes_by_reason);
    assert_eq!(f.divergent_keys, b.divergent_keys);
    assert!((f.primary_lost_at_s - 30.0).abs() < 1e-6);
    assert!((f.promoted_at_s - 34.0).abs() <= 0.1, "{}", f.promoted_at_s);
    assert!((f.write_outage_s - (f.promoted_at_s - 30.0)).abs() < 1e-6);
    assert_eq!(f.detected_at_s, Some(32.0));
}

/// A replica ahead of the new primary. `db-r1` applies at a quarter of the speed (a gray
/// failure: 125 writes/s against 400/s) but receives everything; `db-r2` applies at 500/s but
/// is cut off from the primary at 25 s. The primary's host dies at 30 s: the candidate is
/// `db-r1` (it received the most), promoted orchestrator-like with what it applied after the
/// 10 s wait — far less than `db-r2` applied (everything up to 25 s). GTID shows `db-r2`
/// holding m transactions the new primary lacks; orchestrator leaves such a replica unmoved
/// (a lost replica) until rebuilt, and its m writes on K keys leave K·(1 − e^(−m/K)) keys
/// divergent, m = (writes up to 25 s) − (the new primary's position).
#[test]
fn a_replica_ahead_of_the_new_primary_is_a_lost_replica() {
    let faults = json!([
        { "degrade": { "target": "db-r1", "at": "0s", "slowdown": 4 } },
        { "partition": { "a": "db-primary", "b": "db-r2", "at": "25s" } },
        crash("db-primary", 30.0, None, "host")
    ]);
    let mut v = cluster(400.0, 2, json!({}), faults);
    v["clients"]["keys"]["count"] = json!(100_000);
    v["duration"] = json!("60s");
    let (r, log) = observe(&v, 60);
    let d = r.database.as_ref().unwrap();
    let ts = r.timeseries.as_ref().unwrap();
    // Writes acknowledged up to 25 s and up to the crash, from the time series.
    let acked_by = |t: f64| -> f64 {
        ts.rows
            .iter()
            .filter(|w| w.t_s < t - 1e-9)
            .map(|w| w.succeeded as f64)
            .sum()
    };
    let (at25, at30) = (acked_by(25.0), acked_by(30.0));
    let kept = at30 - d.lost_writes as f64;
    let m = at25 - kept;
    let k = 100_000.0;
    let expected = k * (1.0 - infrasim_engine::math::exp(-m / k));
    eprintln!(
        "promoted {:?}; lost {:?}; new primary at ≈ {kept:.0}, db-r2 at ≈ {at25:.0}: m ≈ {m:.0}; divergent keys {} (formula {expected:.0}); list {:?}",
        log.times("db-r1", "promoted to primary"),
        d.lost_writes_by_reason,
        d.divergent_keys,
        d.failover_list
    );
    assert_eq!(log.times("db-r1", "promoted to primary").len(), 1);
    assert_eq!(log.times("db-r2", "lost replica (ahead)").len(), 1);
    assert!(m > 1000.0, "db-r2 is well ahead: {m}");
    assert!(
        within(d.divergent_keys as f64, expected, 0.05),
        "{} vs {expected}",
        d.divergent_keys
    );
    let f = &d.failover_list[0];
    assert_eq!(f.lost_replicas, ["db-r2"]);
    assert_eq!(f.divergent_keys, d.divergent_keys);
}

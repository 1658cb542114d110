//! Default values of scenario fields, each with its source. `serde(default = "...")` needs
//! functions, so they live here, one per default.

use infrasim_engine::SimDuration;

use super::{Balance, DistSpec, ObserveLayer, PerClass};

pub(super) fn seed_default() -> u64 {
    1
}
pub(super) fn one_u32() -> u32 {
    1
}
pub(super) fn one_f64() -> f64 {
    1.0
}
pub(super) fn true_default() -> bool {
    true
}
pub(super) fn window_default() -> SimDuration {
    SimDuration::from_secs(1)
}
pub(super) fn window_threshold_default() -> f64 {
    0.99
}
pub(super) fn mix_default() -> PerClass<f64> {
    PerClass {
        read: 0.7,
        write: 0.2,
        r#static: 0.1,
    }
}
pub(super) fn addresses_default() -> u32 {
    1000
}
pub(super) fn key_count_default() -> u32 {
    10_000
}
/// Browsers and most HTTP client libraries give up after tens of seconds; 30 s is common.
pub(super) fn client_timeout_default() -> SimDuration {
    SimDuration::from_secs(30)
}
pub(super) fn client_retries_default() -> u32 {
    2
}
pub(super) fn client_backoff_default() -> SimDuration {
    SimDuration::from_millis(100)
}
pub(super) fn client_max_backoff_default() -> SimDuration {
    SimDuration::from_secs(10)
}
/// HAProxy ≤ 3.2 default (HAProxy configuration manual, `balance`).
pub(super) fn balance_default() -> Balance {
    Balance::Roundrobin
}
/// HAProxy `random` default draws (configuration manual, `balance random`).
pub(super) fn draws_default() -> u32 {
    2
}
/// HAProxy `weight` default (configuration manual, `weight`).
pub(super) fn weight_default() -> u32 {
    1
}
/// HAProxy `inter` default 2000 ms (`DEF_CHKINTR`, include/haproxy/defaults.h).
pub(super) fn inter_default() -> SimDuration {
    SimDuration::from_secs(2)
}
/// HAProxy `rise` default (`DEF_RISETIME`).
pub(super) fn rise_default() -> u32 {
    2
}
/// HAProxy `fall` default (`DEF_FALLTIME`).
pub(super) fn fall_default() -> u32 {
    3
}
pub(super) fn observe_layer_default() -> ObserveLayer {
    ObserveLayer::Layer4
}
/// HAProxy `error-limit` default (`DEF_HANA_ERRLIMIT`).
pub(super) fn error_limit_default() -> u32 {
    10
}
/// HAProxy manual examples use `timeout connect 5000ms` (§2.10).
pub(super) fn timeout_connect_default() -> SimDuration {
    SimDuration::from_secs(5)
}
/// HAProxy manual examples use `timeout server 50000ms` (§2.10).
pub(super) fn timeout_server_default() -> SimDuration {
    SimDuration::from_secs(50)
}
/// HAProxy `retries` default 3 (`CONN_RETRIES`).
pub(super) fn lb_retries_default() -> u32 {
    3
}
/// `retry-on conn-failure`: HAProxy's default (src/proxy.c `init_new_proxy()`:
/// `p->retry_type = PR_RE_CONN_FAILED`).
pub(super) fn retry_on_default() -> Vec<super::RetryOn> {
    vec![super::RetryOn::ConnFailure]
}
/// ≈ 6 µs per keep-alive request per core (HAProxy doc/intro.txt §3.6).
pub(super) fn lb_cost_default() -> SimDuration {
    SimDuration::from_micros(6)
}
/// ≈ 8 µs per connection accepted and closed, per core: HAProxy doc/intro.txt §3.6 measures
/// 82 000 HTTP connections/s (a connection and its request, 12.2 µs) against 243 000
/// keep-alive requests/s (4.1 µs): the difference is the connection's own cost.
pub(super) fn lb_conn_cost_default() -> SimDuration {
    SimDuration::from_micros(8)
}
/// keepalived `advert_int` default 1 s (`VRRP_ADVER_DFL`).
pub(super) fn advert_int_default() -> SimDuration {
    SimDuration::from_secs(1)
}
/// keepalived man page: make the master 50 above the others; default priority 100.
pub(super) fn priorities_default() -> [u32; 2] {
    [150, 100]
}
/// keepalived default VRRP version for IPv4.
pub(super) fn vrrp_version_default() -> u32 {
    2
}
/// keepalived `preempt_delay` default 0 (keepalived.conf(5): "Range: 0 (default) to 1000").
pub(super) fn preempt_delay_default() -> SimDuration {
    SimDuration::ZERO
}
/// keepalived `vrrp_script` `interval` default 1 s (`VRRP_SCRIPT_DI`, vrrp_track.h;
/// keepalived.conf(5): "default: 1 second").
pub(super) fn script_interval_default() -> SimDuration {
    SimDuration::from_secs(1)
}
/// keepalived `vrrp_script` `fall` default 1 (vrrp_data.c `alloc_vrrp_script`).
pub(super) fn script_fall_default() -> u32 {
    1
}
/// keepalived `vrrp_script` `rise` default 1 (vrrp_data.c `alloc_vrrp_script`).
pub(super) fn script_rise_default() -> u32 {
    1
}
/// keepalived `vrrp_script` `weight` default 0 (`VRRP_SCRIPT_DW`, vrrp_track.h;
/// keepalived.conf(5): "adjust priority by this weight, (default: 0)").
pub(super) fn script_weight_default() -> i32 {
    0
}
/// Route 53 health checks: `RequestInterval` default 30 s (AWS Route 53 API reference,
/// HealthCheckConfig).
pub(super) fn dns_check_interval_default() -> SimDuration {
    SimDuration::from_secs(30)
}
/// Route 53 health checks: `FailureThreshold` default 3.
pub(super) fn dns_failure_threshold_default() -> u32 {
    3
}
/// Route 53 health checks: checker regions. Route 53 checks from all eight of its
/// health-checking regions unless told which; chosen regions must number at least three
/// (API reference, HealthCheckConfig `Regions`). Three, one checker each, is the smallest
/// configuration Route 53 accepts and keeps the 18 % rule meaningful (one healthy region of
/// three is 33 %: healthy; none is 0 %: unhealthy).
pub(super) fn dns_checker_regions_default() -> u32 {
    3
}
pub(super) fn dns_ttl_default() -> SimDuration {
    SimDuration::from_secs(60)
}
pub(super) fn web_workers_default() -> u32 {
    512
}
/// nginx `listen ... backlog` default 511 on Linux (nginx docs, `listen`).
pub(super) fn web_queue_default() -> u32 {
    511
}
pub(super) fn static_service_default() -> DistSpec {
    DistSpec::exponential(SimDuration::from_micros(200))
}
pub(super) fn proxy_service_default() -> DistSpec {
    DistSpec::exponential(SimDuration::from_micros(50))
}
/// nginx `proxy_connect_timeout` / `proxy_read_timeout` default 60 s (nginx docs).
pub(super) fn proxy_timeout_default() -> SimDuration {
    SimDuration::from_secs(60)
}
pub(super) fn app_workers_default() -> u32 {
    16
}
pub(super) fn app_queue_default() -> u32 {
    128
}
pub(super) fn app_service_default() -> PerClass<DistSpec> {
    PerClass {
        read: DistSpec::exponential(SimDuration::from_millis(10)),
        write: DistSpec::exponential(SimDuration::from_millis(15)),
        r#static: DistSpec::exponential(SimDuration::from_millis(1)),
    }
}
pub(super) fn db_calls_default() -> PerClass<u32> {
    PerClass {
        read: 3,
        write: 1,
        r#static: 0,
    }
}
pub(super) fn db_timeout_default() -> SimDuration {
    SimDuration::from_secs(10)
}
pub(super) fn db_workers_default() -> u32 {
    32
}
pub(super) fn db_queue_default() -> u32 {
    1000
}
pub(super) fn db_read_default() -> DistSpec {
    DistSpec::exponential(SimDuration::from_millis(1))
}
pub(super) fn db_write_default() -> DistSpec {
    DistSpec::exponential(SimDuration::from_millis(3))
}
/// `rpl_semi_sync_source_timeout` default 10 000 ms (MySQL 8.4 reference manual,
/// replication-semisync-interface).
pub(super) fn semi_sync_timeout_default() -> SimDuration {
    SimDuration::from_secs(10)
}
pub(super) fn replication_delay_default() -> DistSpec {
    DistSpec::Constant(SimDuration::from_micros(500))
}
pub(super) fn apply_default() -> DistSpec {
    DistSpec::exponential(SimDuration::from_micros(500))
}
/// ProxySQL's own default is 0 (lag shunning off); when enabled, 10 s matches orchestrator's
/// `ReasonableReplicationLagSeconds` default.
/// `replica_parallel_workers` default 4 since MySQL 8.0.27 (MySQL 8.4 reference manual,
/// replication-options-replica; 0, single-threaded, before).
pub(super) fn appliers_default() -> u32 {
    4
}
/// `replica_net_timeout` default 60 s (MySQL 8.4 reference manual, replication-options-replica;
/// 3 600 s before 5.7.7, WL#8320). The source's heartbeat period defaults to half of it.
pub(super) fn net_timeout_default() -> SimDuration {
    SimDuration::from_secs(60)
}
/// `SOURCE_CONNECT_RETRY` default 60 s (MySQL 8.4 reference manual, CHANGE REPLICATION SOURCE TO).
pub(super) fn connect_retry_default() -> SimDuration {
    SimDuration::from_secs(60)
}
/// orchestrator `InstanceBulkOperationsWaitTimeoutSeconds` default 10 (go/config/config.go).
pub(super) fn apply_wait_default() -> SimDuration {
    SimDuration::from_secs(10)
}
/// orchestrator `RecoveryPeriodBlockSeconds` default 3 600 (go/config/config.go,
/// docs/configuration-recovery.md).
pub(super) fn recovery_block_default() -> SimDuration {
    SimDuration::from_secs(3600)
}
/// A modelling choice: re-cloning a replica (MySQL clone plugin or a backup restore) of a
/// modest data set takes tens of minutes; 30 min.
pub(super) fn rebuild_time_default() -> SimDuration {
    SimDuration::from_secs(30 * 60)
}
/// A modelling choice: a session reads back what it wrote within the next few seconds
/// (a page reload after a form post).
pub(super) fn own_write_window_default() -> SimDuration {
    SimDuration::from_secs(5)
}
pub(super) fn max_lag_default() -> SimDuration {
    SimDuration::from_secs(10)
}
/// ProxySQL `monitor_replication_lag_interval` default 10 000 ms.
pub(super) fn lag_check_default() -> SimDuration {
    SimDuration::from_secs(10)
}
pub(super) fn operator_delay_default() -> SimDuration {
    SimDuration::from_secs(15 * 60)
}
/// orchestrator `InstancePollSeconds` default 5.
pub(super) fn failover_check_default() -> SimDuration {
    SimDuration::from_secs(5)
}
/// MHA declares the master dead after 4 failed pings; orchestrator after a few polls.
pub(super) fn failover_checks_default() -> u32 {
    2
}
/// GitHub's orchestrator failovers take 10–13 s end to end; promotion itself a few seconds.
pub(super) fn promotion_default() -> SimDuration {
    SimDuration::from_secs(3)
}
/// Same-datacentre one-way latency.
pub(super) fn latency_default() -> SimDuration {
    SimDuration::from_micros(100)
}
/// Internet one-way latency from users to the site.
pub(super) fn client_latency_default() -> SimDuration {
    SimDuration::from_millis(10)
}

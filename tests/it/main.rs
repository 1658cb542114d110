//! The end-to-end tests of infrasim, one binary: `cargo test --release --test it`, or one
//! topic with its module path as a filter (`cargo test --release --test it database::`).
//! Each module's documentation says what it checks and how; [`util`] holds the helpers they
//! share.
//!
//! * [`audit`]: single points of failure on the topology graph, each proved by a run;
//! * [`common_random_numbers`]: each part of a scenario keeps its draws when another part
//!   changes, and what that buys a comparison;
//! * [`database`]: replication lag, stale reads, read routing and query timeouts;
//! * [`errors`]: the error of every kind of bad scenario file, and the command-line tool's
//!   exit codes;
//! * [`failover`]: orchestrator- and MHA-like promotion of a lagging candidate, the most
//!   advanced replica chosen, split brain and fencing, the anti-flap block, semi-sync's return;
//! * [`high_availability`]: availability algebra against closed forms, keepalived and DNS
//!   pairs, the writes and the write outage of each database failover mode;
//! * [`horizon`]: a simulated year runs in flat memory (peak measured in a child process);
//! * [`library`]: the library face — determinism across thread counts, code ⇄ JSON round
//!   trips, confidence intervals;
//! * [`load_balancer`]: the load balancer against HAProxy's documented behaviour;
//! * [`load_balancer_failures`]: how the load balancer handles failing servers, against
//!   HAProxy's sources (passive health, checks, saturated servers, queues on a server marked
//!   DOWN, slowstart, layer-7 retries);
//! * [`monitoring`]: who notices a failure — detection delays against Prometheus' and
//!   Nagios' phases, `for` against a blip, gray failures, repair after detection and latent
//!   failures behind redundancy against availability algebra, the monitoring's own crash;
//! * [`models_theory`]: app servers as M/M/c and M/M/c/K queues, against
//!   [`infrasim_engine::theory`];
//! * [`no_panic`]: no input makes parsing or running panic (property tests; the failures
//!   proptest has found are replayed from `tests/proptest-regressions/no_panic.txt`);
//! * [`page`]: `report.html` of a run and of an audit, self-contained, rendered by headless
//!   Chromium (required where `INFRASIM_REQUIRE_BROWSER` is set, as in CI);
//! * [`replication`]: the binlog as a stream that resumes — catch-up after an outage, no
//!   gaps after partitions and loss, `Seconds_Behind_Source` and its NULL, parallel appliers;
//! * [`scenarios`]: every shipped scenario validates, runs deterministically and matches its
//!   golden report in `tests/golden/`;
//! * [`security`]: firewalls, attack traffic and rate limiting against their formulas
//!   (M/M/c/K blocking under a flood, per-address rates against a limit, conntrack's
//!   admission rate, syncookies, a firewall's crash);
//! * [`shard`]: `run --shard`, `sweep --shard` and `merge` give byte for byte the unsharded
//!   output for every shipped scenario at 1, 2 and 5 shards; mismatched parts are refused;
//!   grid sweeps;
//! * [`tls`]: keep-alive connections and TLS termination — handshake round trips per
//!   version, the LB's handshake capacity per core and its M/D/c queueing, resumption
//!   moving capacity, full handshakes landing on a new master without shared ticket keys;
//! * [`tcp`]: loss, dead peers, full accept queues and a frontend at `maxconn` cost
//!   retransmission time, not requests; health checks go through the server.

mod audit;
mod common_random_numbers;
mod database;
mod errors;
mod failover;
mod high_availability;
mod horizon;
mod library;
mod load_balancer;
mod load_balancer_failures;
mod models_theory;
mod monitoring;
mod no_panic;
mod page;
mod replication;
mod scenarios;
mod security;
mod shard;
mod tcp;
mod tls;
mod util;

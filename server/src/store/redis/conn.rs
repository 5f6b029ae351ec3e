//! The connection to Redis — one node (a reconnecting [`ConnectionManager`]) or a Redis Cluster
//! (redis-rs's async [`ClusterConnection`], connected lazily) — and the few operations whose
//! shape differs between the two: batches of per-person pipelines, `WAIT`, `SCAN` over every
//! primary.
//!
//! In a cluster every pipeline must stay in one hash slot (redis-rs refuses a cross-slot pipeline
//! with `CROSSSLOT` before sending it), so the store builds *groups*: one pipeline per person,
//! whose keys all share the person's hash tag. On one node the groups of a batch are sent as one
//! pipeline (one round trip, as before); on a cluster they are sent concurrently, at most
//! [`GROUPS_IN_FLIGHT`] at a time — the cluster connection multiplexes them per node, so they
//! travel pipelined on each node's connection anyway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, ResponsePolicy, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

use crate::store::config::RedisSettings;

/// Per-slot pipelines in flight at once on a cluster.
pub const GROUPS_IN_FLIGHT: usize = 64;

/// Where the store's Redis is: one node, or a cluster (connected on first use, so a replica
/// starts while the cluster is down and connects when it answers).
#[derive(Clone)]
pub enum Redis {
    /// One node.
    Single(ConnectionManager),
    /// A cluster.
    Cluster {
        /// The client (seed nodes, password, timeouts).
        client: Box<ClusterClient>,
        /// The connection, once made.
        conn: Arc<OnceCell<ClusterConnection>>,
        /// When the last attempt to connect failed: callers within [`RETRY_AFTER`] of it fail
        /// at once instead of queueing for an attempt each (a black-holed seed takes the whole
        /// connection timeout per attempt).
        failed_at: Arc<parking_lot::Mutex<Option<Instant>>>,
    },
}

/// How long after a failed cluster connection attempt calls fail without trying again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// A connection to use now.
#[derive(Clone)]
pub enum Conn {
    /// To one node.
    Single(ConnectionManager),
    /// To a cluster.
    Cluster(ClusterConnection),
}

impl Redis {
    /// Set up from the settings (connects nothing yet).
    pub fn open(settings: &RedisSettings) -> RedisResult<Self> {
        if settings.cluster_nodes.is_empty() {
            let mut info = settings.url.as_str().into_connection_info()?;
            if let Some(p) = &settings.password {
                let rs = info.redis_settings().clone().set_password(p);
                info = info.set_redis_settings(rs);
            }
            let client = match &settings.tls {
                Some(certs) => redis::Client::build_with_tls(info, certs.clone())?,
                None => redis::Client::open(info)?,
            };
            let config = ConnectionManagerConfig::new()
                .set_response_timeout(Some(settings.timeout))
                .set_connection_timeout(Some(settings.timeout))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            return Ok(Redis::Single(ConnectionManager::new_lazy_with_config(
                client, config,
            )?));
        }
        let mut builder = ClusterClientBuilder::new(settings.cluster_nodes.clone())
            .connection_timeout(settings.timeout)
            .response_timeout(settings.timeout)
            .retries(2)
            .max_retry_wait(500);
        if let Some(p) = &settings.password {
            builder = builder.password(p.clone());
        }
        if let Some(certs) = &settings.tls {
            builder = builder.certs(certs.clone());
        }
        Ok(Redis::Cluster {
            client: Box::new(builder.build()?),
            conn: Arc::new(OnceCell::new()),
            failed_at: Arc::new(parking_lot::Mutex::new(None)),
        })
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Redis::Cluster { .. })
    }

    /// A connection (on a cluster, made now if not yet: an error while no seed node answers).
    pub async fn conn(&self) -> RedisResult<Conn> {
        match self {
            Redis::Single(c) => Ok(Conn::Single(c.clone())),
            Redis::Cluster {
                client,
                conn,
                failed_at,
            } => {
                if let Some(c) = conn.get() {
                    return Ok(Conn::Cluster(c.clone()));
                }
                if failed_at.lock().is_some_and(|t| t.elapsed() < RETRY_AFTER) {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "the Redis Cluster did not answer the last connection attempt",
                    )));
                }
                let made = conn
                    .get_or_try_init(|| client.get_async_connection())
                    .await
                    .cloned();
                if made.is_err() {
                    *failed_at.lock() = Some(Instant::now());
                }
                made.map(Conn::Cluster)
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl Conn {
    /// Whether this is a cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// Run `groups` — pipelines each of whose keys share one hash slot, with no `ignore()`d
    /// command — and return each group's replies, in order (module docs).
    pub async fn groups(&self, groups: Vec<Pipeline>) -> RedisResult<Vec<Vec<Value>>> {
        match self {
            Conn::Single(c) => {
                let mut all = redis::pipe();
                let mut lens = Vec::with_capacity(groups.len());
                for g in &groups {
                    lens.push(g.len());
                    for cmd in g.cmd_iter() {
                        all.add_command(cmd.clone());
                    }
                }
                if all.is_empty() {
                    return Ok(vec![Vec::new(); groups.len()]);
                }
                let values: Vec<Value> = all.query_async(&mut c.clone()).await?;
                let mut values = values.into_iter();
                Ok(lens
                    .into_iter()
                    .map(|n| values.by_ref().take(n).collect())
                    .collect())
            }
            Conn::Cluster(c) => {
                futures_util::stream::iter(groups)
                    .map(|g| {
                        let mut c = c.clone();
                        async move {
                            if g.is_empty() {
                                return Ok(Vec::new());
                            }
                            g.query_async::<Vec<Value>>(&mut c).await
                        }
                    })
                    .buffered(GROUPS_IN_FLIGHT)
                    .try_collect()
                    .await
            }
        }
    }

    /// `WAIT replicas timeout_ms` after writes to the keys `written`: on one node, that node;
    /// on a cluster, the primary of each key's slot when they are in one slot, else every
    /// primary (the smallest count wins). The number of replicas that acknowledged.
    pub async fn wait(&self, replicas: u32, timeout_ms: u64, written: &[&str]) -> RedisResult<u32> {
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout_ms);
        match self {
            Conn::Single(c) => wait.query_async(&mut c.clone()).await,
            Conn::Cluster(c) => {
                let mut routes: Vec<Route> = Vec::new();
                for k in written {
                    let r = Route::with_key(k.as_bytes(), SlotAddr::Master);
                    if !routes.contains(&r) {
                        routes.push(r);
                    }
                }
                let mut counts = Vec::with_capacity(routes.len());
                if routes.len() <= 4 {
                    for route in routes {
                        let routing =
                            RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                        let v = c.clone().route_command(wait.clone(), routing).await?;
                        counts.push(redis::from_redis_value::<u32>(v)?);
                    }
                } else {
                    let routing = RoutingInfo::MultiNode((
                        MultipleNodeRoutingInfo::AllMasters,
                        Some(ResponsePolicy::Aggregate(
                            redis::cluster_routing::AggregateOp::Min,
                        )),
                    ));
                    let v = c.clone().route_command(wait, routing).await?;
                    counts.push(redis::from_redis_value::<u32>(v)?);
                }
                Ok(counts.into_iter().min().unwrap_or(replicas))
            }
        }
    }

    /// Every key matching `pattern`, node by node (every primary of a cluster), in batches of
    /// about `count`, each handed to `each` before the next `SCAN`; a Redis error is `error`'s.
    pub async fn scan_each<F, Fut, E>(
        &self,
        pattern: &str,
        count: usize,
        error: impl Fn(redis::RedisError) -> E,
        mut each: F,
    ) -> Result<(), E>
    where
        F: FnMut(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
    {
        let routes: Vec<Option<RoutingInfo>> = match self {
            Conn::Single(_) => vec![None],
            Conn::Cluster(c) => primaries(c)
                .await
                .map_err(&error)?
                .into_iter()
                .map(|slot| {
                    Some(RoutingInfo::SingleNode(
                        SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master)),
                    ))
                })
                .collect(),
        };
        for route in routes {
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(count);
                let step: RedisResult<(u64, Vec<String>)> = match (&route, self) {
                    (Some(r), Conn::Cluster(c)) => c
                        .clone()
                        .route_command(scan, r.clone())
                        .await
                        .and_then(|v| Ok(redis::from_redis_value(v)?)),
                    (_, conn) => scan.query_async(&mut conn.clone()).await,
                };
                let (next, found) = step.map_err(&error)?;
                if !found.is_empty() {
                    each(found).await?;
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// One slot served by each primary of the cluster (from `CLUSTER SLOTS`), to route a per-node
/// command such as `SCAN` to every primary once.
async fn primaries(c: &ClusterConnection) -> RedisResult<Vec<u16>> {
    let v = c
        .clone()
        .route_command(
            redis::cmd("CLUSTER").arg("SLOTS").clone(),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary),
        )
        .await?;
    // [[start, end, [ip, port, id, …], replica…], …]
    let ranges: Vec<Vec<Value>> = redis::from_redis_value(v)?;
    let mut seen: Vec<(String, i64)> = Vec::new();
    let mut slots = Vec::new();
    for range in ranges {
        let mut it = range.into_iter();
        let (Some(start), Some(_end), Some(primary)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let start: u16 = redis::from_redis_value(start)?;
        let node: Vec<Value> = redis::from_redis_value(primary)?;
        let mut node = node.into_iter();
        let (Some(ip), Some(port)) = (node.next(), node.next()) else {
            continue;
        };
        let id: (String, i64) = (redis::from_redis_value(ip)?, redis::from_redis_value(port)?);
        if !seen.contains(&id) {
            seen.push(id);
            slots.push(start);
        }
    }
    Ok(slots)
}

//! The end-to-end tests, as one test binary (one link of the whole workspace instead of one per
//! file): simulate → train → score against the simulator's truth, and the real
//! `contactscore-server` binary started on `127.0.0.1:0` and driven by tonic and Python clients.

mod common;
mod deploy;
mod fault_late_evidence;
mod fault_requests;
mod fault_state_dir;
mod python_client;
mod redis_auth;
mod redis_cluster;
mod redis_data_loss;
mod redis_loader_death;
mod redis_outage;
mod redis_promotion;
mod redis_store;
mod redis_tls;
mod redis_wait;
mod server;
mod server_admin;
mod server_consent;
mod server_dirty;
mod server_idempotency;
mod server_lifecycle;
mod server_plan;
mod server_retention;
mod server_sharded;
mod server_tls;
mod train_and_score;

//! A minimal `ContactScoring` client for the quickstart: ranks one person and prints the
//! suggestions and blocked candidates. Dialer integrations in other languages generate a client
//! from `proto/contactscore/v1/contactscore.proto` the same way (see `examples/python/`).
//!
//! ```sh
//! cargo run --release -p contactscore-server --example rank -- --addr http://127.0.0.1:50051 \
//!     --person P0000042 [--contact "+55 11 98765-4321" --contact ana@example.com] \
//!     [--timezone America/Sao_Paulo] [--as-of 2026-04-06T08:00:00Z]
//! ```

use anyhow::Context;
use clap::Parser;
use contactscore_proto::v1;
use contactscore_proto::v1::contact_scoring_client::ContactScoringClient;

#[derive(Debug, Parser)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// Person to rank.
    #[arg(long)]
    person: String,
    /// Candidate contact points (any common format); none = the ones the server knows.
    #[arg(long = "contact")]
    contacts: Vec<String>,
    /// The person's IANA time zone.
    #[arg(long, default_value = "")]
    timezone: String,
    /// Plan as of this instant (RFC 3339); default now.
    #[arg(long)]
    as_of: Option<jiff::Timestamp>,
    /// Look this many hours ahead (0 = server default).
    #[arg(long, default_value_t = 0)]
    horizon_hours: u32,
}

fn fmt_ts(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| jiff::Timestamp::from_second(t.seconds).ok())
        .map_or_else(|| "-".to_owned(), |t| t.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut client = ContactScoringClient::connect(args.addr.clone())
        .await
        .with_context(|| format!("connecting to {}", args.addr))?;
    let info = client
        .get_model_info(v1::GetModelInfoRequest {})
        .await?
        .into_inner();
    println!(
        "model {} ({}, target {}), {} persons in state",
        info.version, info.family, info.target, info.persons
    );
    let req = v1::RankRequest {
        person_id: args.person,
        contacts: args
            .contacts
            .into_iter()
            .map(|c| v1::ContactPoint {
                contact: c,
                ..Default::default()
            })
            .collect(),
        as_of: args.as_of.map(|t| prost_types::Timestamp {
            seconds: t.as_second(),
            nanos: 0,
        }),
        horizon_hours: args.horizon_hours,
        timezone: args.timezone,
        ..Default::default()
    };
    let r = client.rank(req).await?.into_inner();
    println!("suggestions for {}:", r.person_id);
    for s in &r.suggestions {
        println!(
            "  {:>16} {:<9} {} → {}  p={:.3}  [{}]",
            s.contact,
            s.channel,
            fmt_ts(s.slot_start.as_ref()),
            fmt_ts(s.slot_end.as_ref()),
            s.probability,
            s.reasons.join(", ")
        );
    }
    if r.suggestions.is_empty() {
        println!("  (none allowed)");
    }
    for b in &r.blocked {
        println!(
            "  blocked {:>16} {:<9} {} until {}",
            b.contact,
            b.channel,
            b.reason,
            fmt_ts(b.until.as_ref())
        );
    }
    Ok(())
}

//! End to end over TLS: a throw-away self-signed certificate made with the `openssl` command
//! (`contactscore_e2e::tls`, so no key is ever committed), the server configured with it, and a
//! tonic client that trusts only that certificate. A plain-text client must not get an answer.

use anyhow::Result;
use contactscore_e2e::server::{ServerProc, train_into};
use contactscore_e2e::simulated;
use contactscore_proto::v1;
use contactscore_proto::v1::contact_scoring_client::ContactScoringClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_only_tls_clients() -> Result<()> {
    let sim = simulated(400, 14, 31)?;
    let dir = sim.dir.path();
    let models = dir.join("models");
    let version = train_into(&sim.attempts, None, &models, sim.bad_rows)?;
    let contactscore_e2e::tls::CertFiles { cert, key } =
        contactscore_e2e::tls::self_signed(dir, "server")?;
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )?;
    let config_arg = config.display().to_string();
    let server = ServerProc::start(&models, &dir.join("state"), &["--config", &config_arg])?;

    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(&cert)?))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://{}", server.addr))?
        .tls_config(tls)?
        .connect()
        .await?;
    let info = ContactScoringClient::new(channel)
        .get_model_info(v1::GetModelInfoRequest {})
        .await?
        .into_inner();
    assert_eq!(info.version, version);

    // Plain text gets no answer from a TLS listener.
    let plain = async {
        let mut c = server.client().await?;
        c.get_model_info(v1::GetModelInfoRequest {}).await?;
        anyhow::Ok(())
    };
    assert!(
        plain.await.is_err(),
        "a plain-text call must fail against TLS"
    );
    Ok(())
}

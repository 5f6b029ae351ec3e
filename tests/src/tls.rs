//! Throw-away certificates for the TLS tests, made with the `openssl` command in a test's
//! temporary directory (so no key is ever committed): a self-signed leaf (the gRPC listener's
//! test), a CA, and leaves signed by a CA for `localhost` / `127.0.0.1` (Redis's server
//! certificate, a client certificate for mutual TLS).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// A certificate and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy)]
pub enum Usage {
    /// A server's (`extendedKeyUsage=serverAuth`).
    Server,
    /// A client's (`extendedKeyUsage=clientAuth`).
    Client,
}

impl Usage {
    fn eku(self) -> &'static str {
        match self {
            Usage::Server => "extendedKeyUsage=serverAuth",
            Usage::Client => "extendedKeyUsage=clientAuth",
        }
    }
}

/// The names every leaf is for.
const SAN: &str = "subjectAltName=DNS:localhost,IP:127.0.0.1";

/// A self-signed server leaf for `localhost` / `127.0.0.1`: `DIR/NAME.pem`, `DIR/NAME.key`.
pub fn self_signed(dir: &Path, name: &str) -> Result<CertFiles> {
    // A leaf certificate, not a CA: rustls refuses a CA certificate as the server's.
    self_signed_with(
        files(dir, name),
        "/CN=localhost",
        &[
            SAN,
            "basicConstraints=critical,CA:FALSE",
            Usage::Server.eku(),
        ],
    )
}

/// A CA certificate (self-signed, `CA:TRUE`): `DIR/NAME.pem`, `DIR/NAME.key`.
pub fn ca(dir: &Path, name: &str) -> Result<CertFiles> {
    self_signed_with(
        files(dir, name),
        &format!("/CN=contactscore test CA {name}"),
        &[
            "basicConstraints=critical,CA:TRUE",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )
}

/// `openssl req -x509` for `subject` with these extensions, into `files`.
fn self_signed_with(files: CertFiles, subject: &str, extensions: &[&str]) -> Result<CertFiles> {
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    ])
    .args(["-subj", subject]);
    for ext in extensions {
        cmd.args(["-addext", ext]);
    }
    openssl(
        cmd.arg("-keyout")
            .arg(&files.key)
            .arg("-out")
            .arg(&files.cert),
    )?;
    Ok(files)
}

/// A leaf for `localhost` / `127.0.0.1` signed by `ca`: `DIR/NAME.pem`, `DIR/NAME.key`.
pub fn signed(ca: &CertFiles, dir: &Path, name: &str, usage: Usage) -> Result<CertFiles> {
    let files = files(dir, name);
    let csr = dir.join(format!("{name}.csr"));
    openssl(
        Command::new("openssl")
            .args(["req", "-new", "-newkey", "rsa:2048", "-nodes"])
            .args(["-subj", "/CN=localhost"])
            .arg("-keyout")
            .arg(&files.key)
            .arg("-out")
            .arg(&csr),
    )?;
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!(
            "{SAN}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n{}\n",
            usage.eku()
        ),
    )?;
    openssl(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-set_serial", "2"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&ca.cert)
            .arg("-CAkey")
            .arg(&ca.key)
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&files.cert),
    )?;
    Ok(files)
}

fn files(dir: &Path, name: &str) -> CertFiles {
    CertFiles {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    }
}

fn openssl(cmd: &mut Command) -> Result<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("openssl failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

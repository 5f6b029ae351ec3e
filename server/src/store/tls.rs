//! TLS to Redis: the `[state] redis_ca_file` (the CA that signed Redis's certificate) and the
//! optional client certificate and key for Redis's `tls-auth-clients yes` (mutual TLS), read and
//! checked once at start-up so that a missing or unparsable file fails the start naming the key
//! and the file — never its contents.
//!
//! Which roots verify Redis's certificate: with `redis_ca_file`, *only* the certificates of that
//! file (the platform's roots are not added); without it, the platform's store as redis-rs's
//! `tls-rustls` feature loads it (`rustls-native-certs`: `SSL_CERT_FILE` / `SSL_CERT_DIR`, else
//! the system's bundle, e.g. `/etc/ssl/certs` on Debian) — not the bundled webpki roots, whose
//! feature is off. The host name of the URL is checked against the certificate either way.

use std::path::{Path, PathBuf};

use redis::{ClientTlsConfig, TlsCertificates};

use crate::error::{Result, ServerError};

/// The TLS files of `[state]` as written.
#[derive(Debug, Clone, Copy)]
pub struct TlsFiles<'a> {
    /// `redis_ca_file`.
    pub ca: Option<&'a PathBuf>,
    /// `redis_client_cert_file`.
    pub client_cert: Option<&'a PathBuf>,
    /// `redis_client_key_file`.
    pub client_key: Option<&'a PathBuf>,
}

/// The PEM marker of a certificate.
const CERT_MARKER: &[u8] = b"-----BEGIN CERTIFICATE-----";

impl TlsFiles<'_> {
    /// The certificates to hand redis-rs, `None` when no file is set (the platform's roots).
    /// `url` is one of the store's single-node URLs (a seed node's for a cluster): the files
    /// need a `rediss://` one.
    pub fn load(&self, url: &str) -> Result<Option<TlsCertificates>> {
        let bad = |key: &str, why: String| ServerError::Config(format!("state.{key}: {why}"));
        if self.ca.is_none() && self.client_cert.is_none() && self.client_key.is_none() {
            return Ok(None);
        }
        let key = if self.ca.is_some() {
            "redis_ca_file"
        } else {
            "redis_client_cert_file"
        };
        if !url.starts_with("rediss://") {
            return Err(bad(
                key,
                "is set but state.store is not a rediss:// or rediss+cluster:// URL".into(),
            ));
        }
        let root_cert = match self.ca {
            None => None,
            Some(path) => {
                let pem = read(path, "redis_ca_file")?;
                let certs = TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                };
                if !contains(&pem, CERT_MARKER) {
                    return Err(bad(
                        "redis_ca_file",
                        format!("{} holds no PEM certificate", path.display()),
                    ));
                }
                redis::Client::build_with_tls(url, certs).map_err(|e| {
                    bad(
                        "redis_ca_file",
                        format!("{} is not a usable CA certificate: {e}", path.display()),
                    )
                })?;
                Some(pem)
            }
        };
        let client_tls = match (self.client_cert, self.client_key) {
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(bad(
                    "redis_client_cert_file",
                    "redis_client_cert_file and redis_client_key_file go together".into(),
                ));
            }
            (Some(cert_path), Some(key_path)) => {
                let client_cert = read(cert_path, "redis_client_cert_file")?;
                if !contains(&client_cert, CERT_MARKER) {
                    return Err(bad(
                        "redis_client_cert_file",
                        format!("{} holds no PEM certificate", cert_path.display()),
                    ));
                }
                let client_key = read(key_path, "redis_client_key_file")?;
                let client = ClientTlsConfig {
                    client_cert,
                    client_key,
                };
                let certs = TlsCertificates {
                    client_tls: Some(client.clone()),
                    root_cert: None,
                };
                // The parse errors name neither the certificate's nor the key's contents.
                redis::Client::build_with_tls(url, certs).map_err(|e| {
                    bad(
                        "redis_client_key_file",
                        format!(
                            "{} / {} is not a usable certificate and private key: {e}",
                            cert_path.display(),
                            key_path.display()
                        ),
                    )
                })?;
                Some(client)
            }
        };
        Ok(Some(TlsCertificates {
            client_tls,
            root_cert,
        }))
    }
}

/// A file's bytes; an error naming `key` and the file.
fn read(path: &Path, key: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        ServerError::Config(format!("state.{key}: cannot read {}: {e}", path.display()))
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_name_the_key_and_the_file_and_never_the_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hunter2 not a certificate").expect("write");
        let missing = dir.path().join("missing.pem");
        let url = "rediss://127.0.0.1:6380";
        let err = |files: TlsFiles<'_>, url: &str| match files.load(url) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        };
        let none = TlsFiles {
            ca: None,
            client_cert: None,
            client_key: None,
        };
        assert!(none.load("redis://h:1").expect("no files").is_none());
        let e = err(
            TlsFiles {
                ca: Some(&missing),
                ..none
            },
            url,
        );
        assert!(
            e.contains("state.redis_ca_file") && e.contains("missing.pem"),
            "{e}"
        );
        let e = err(
            TlsFiles {
                ca: Some(&junk),
                ..none
            },
            url,
        );
        assert!(
            e.contains("state.redis_ca_file") && e.contains("junk.pem") && !e.contains("hunter2"),
            "{e}"
        );
        let e = err(
            TlsFiles {
                ca: Some(&junk),
                ..none
            },
            "redis://127.0.0.1:6379",
        );
        assert!(e.contains("rediss://"), "{e}");
        let e = err(
            TlsFiles {
                client_cert: Some(&junk),
                ..none
            },
            url,
        );
        assert!(e.contains("go together"), "{e}");
        let e = err(
            TlsFiles {
                client_cert: Some(&junk),
                client_key: Some(&junk),
                ..none
            },
            url,
        );
        assert!(
            e.contains("state.redis_client_cert_file") && !e.contains("hunter2"),
            "{e}"
        );
    }
}

//! Redaction for logs: person ids (CPF, SSN, customer ids) and contact points never appear in
//! clear text; a short hash keeps log lines correlatable.

use sha2::{Digest, Sha256};

/// A person id as logged: `p#` plus the first 6 hex digits of its SHA-256.
pub fn person(id: &str) -> String {
    let d = Sha256::digest(id.as_bytes());
    format!("p#{d:.6x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn person_ids_are_hashed() {
        let p = super::person("123.456.789-09");
        assert!(p.starts_with("p#") && p.len() == 8);
        assert!(!p.contains("123"));
        assert_eq!(p, super::person("123.456.789-09"));
    }
}

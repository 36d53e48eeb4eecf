//! PEM certificate files, read once and checked the same way wherever they are used: the
//! engine's HTTPS chain (`serve --tls-cert`), the certificate authorities that the client
//! trusts besides the system's roots (`--ca-file`), and those the bridge's MQTT input trusts
//! instead of them (`ca`).

use std::path::Path;

#[cfg(feature = "client")]
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The certificates in a PEM file, in order; an error (to put after the file's name) when the
/// file cannot be read, a block is not valid PEM, or there is no CERTIFICATE block at all.
#[cfg_attr(not(feature = "tls"), allow(dead_code))] // the engine's HTTPS chain
pub(crate) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    parse(&pem)
}

fn parse(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block found".into());
    }
    Ok(certs)
}

/// Certificate authorities to trust, from one PEM file.
#[cfg(feature = "client")]
#[derive(Debug, Clone)]
pub(crate) struct TrustedCas {
    /// The file's bytes, each certificate in it checked as a trust anchor (so that a TLS
    /// library given them finds nothing to refuse).
    pub pem: Vec<u8>,
    /// The same certificates as rustls roots.
    #[cfg_attr(not(feature = "bridge"), allow(dead_code))] // the bridge's MQTT over TLS
    pub roots: RootCertStore,
}

#[cfg(feature = "client")]
impl TrustedCas {
    /// Reads `path`; an error as [`certificates`], or when a certificate cannot be a trust
    /// anchor (its DER is not an X.509 certificate).
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let pem = std::fs::read(path).map_err(|e| e.to_string())?;
        let mut roots = RootCertStore::empty();
        for cert in parse(&pem)? {
            roots.add(cert).map_err(|e| format!("not a usable CA certificate: {e}"))?;
        }
        Ok(Self { pem, roots })
    }
}

#[cfg(all(test, feature = "client", feature = "tls"))]
mod tests {
    use super::*;

    fn data(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls").join(name)
    }

    #[test]
    fn files_are_read_and_every_mistake_is_named() {
        assert_eq!(TrustedCas::load(&data("ca.pem")).unwrap().roots.len(), 1);
        assert!(!certificates(&data("server.pem")).unwrap().is_empty());
        // A key, not a certificate.
        assert_eq!(TrustedCas::load(&data("server.key")).unwrap_err(), "no CERTIFICATE block found");
        assert!(TrustedCas::load(&data("missing.pem")).unwrap_err().contains("No such file"));
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        assert!(TrustedCas::load(&garbage).unwrap_err().starts_with("not a usable CA certificate"));
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap();
        assert!(certificates(&garbage).is_err());
    }
}

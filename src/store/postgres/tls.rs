//! TLS for PostgreSQL connections: `sslmode` from the URL mapped onto rustls (aws-lc provider).
//!
//! The modes mean what they mean to libpq: `disable` never encrypts; `prefer` (the default)
//! encrypts when the server offers TLS and falls back to plain when it refuses; `require`
//! encrypts but does not verify the certificate; `verify-ca` and `verify-full` encrypt and verify
//! the server's certificate against Mozilla's roots (webpki-roots). `require` cannot verify
//! because hosted servers such as Supabase sign their certificates with their own CA, which no
//! public root store holds; verifying there needs that CA, so keep `require` for them.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SslMode {
    Disable,
    Prefer,
    Require,
    Verify,
}

impl SslMode {
    pub(super) fn parse(value: Option<&str>) -> Result<Self> {
        match value {
            None | Some("prefer") => Ok(SslMode::Prefer),
            Some("disable") => Ok(SslMode::Disable),
            Some("require") => Ok(SslMode::Require),
            Some("verify-ca") | Some("verify-full") => Ok(SslMode::Verify),
            Some(other) => Err(Error::Config(format!(
                "database.url has sslmode={other}; use disable, prefer, require, verify-ca or verify-full"
            ))),
        }
    }

    pub(super) fn driver_mode(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as M;
        match self {
            SslMode::Disable => M::Disable,
            SslMode::Prefer => M::Prefer,
            SslMode::Require | SslMode::Verify => M::Require,
        }
    }

    /// The connector for this mode (unused by the driver when the mode is `disable`).
    pub(super) fn connector(self) -> Result<MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("cannot set up TLS for PostgreSQL: {e}")))?;
        let config = match self {
            SslMode::Verify => {
                // with_webpki_roots() builds on the process-wide provider; install ours unless
                // another part of the process already chose one (then that one is used).
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                return Ok(MakeRustlsConnect::with_webpki_roots());
            }
            SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth(),
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

/// libpq's `require`: the handshake's signatures are checked, the certificate chain is not.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmodes_parse_like_libpq() {
        assert_eq!(SslMode::parse(None).ok(), Some(SslMode::Prefer));
        assert_eq!(SslMode::parse(Some("disable")).ok(), Some(SslMode::Disable));
        assert_eq!(SslMode::parse(Some("require")).ok(), Some(SslMode::Require));
        assert_eq!(SslMode::parse(Some("verify-full")).ok(), Some(SslMode::Verify));
        assert!(SslMode::parse(Some("allow-ish")).is_err());
        for mode in [SslMode::Disable, SslMode::Prefer, SslMode::Require, SslMode::Verify] {
            assert!(mode.connector().is_ok(), "{mode:?}");
        }
    }
}

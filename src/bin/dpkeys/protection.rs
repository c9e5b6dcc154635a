//! `--certificate`, `--kek-file`: how keys are encrypted at rest.

use data_protection::DataProtectionBuilder;
use data_protection::xml_encryption::{Certificate, Kek};

use crate::args::Cli;
use crate::failure::Failure;

/// Adds the configured certificates and KEKs to `builder`: the first of each kind encrypts
/// new keys (a certificate wins over a KEK when both are given), all of them decrypt.
pub(crate) fn configure(
    cli: &Cli,
    mut builder: DataProtectionBuilder,
) -> Result<DataProtectionBuilder, Failure> {
    if cli.allow_unencrypted_keys {
        builder = builder.allow_unencrypted_keys();
    }
    let keks = cli
        .kek_files
        .iter()
        .map(|path| {
            Kek::from_file(path)
                .map_err(|e| Failure::usage(format!("--kek-file {}: {e}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let certificates = cli
        .certificates
        .iter()
        .map(|spec| load_certificate(spec, &cli.certificate_password_env))
        .collect::<Result<Vec<_>, _>>()?;
    let mut keks = keks.into_iter();
    if let Some(primary) = keks.next() {
        builder = builder.protect_keys_with_kek(primary);
    }
    builder = builder.unprotect_keys_with_keks(keks);
    let mut certificates = certificates.into_iter();
    if let Some(primary) = certificates.next() {
        builder = builder.protect_keys_with_certificate(primary);
    }
    Ok(builder.unprotect_keys_with_any_certificate(certificates))
}

fn load_certificate(spec: &str, password_env: &str) -> Result<Certificate, Failure> {
    let failed = |e: &dyn std::fmt::Display| Failure::usage(format!("--certificate {spec}: {e}"));
    let lower = spec.to_ascii_lowercase();
    if lower.ends_with(".pfx") || lower.ends_with(".p12") {
        let password = zeroize::Zeroizing::new(std::env::var(password_env).unwrap_or_default());
        return Certificate::from_pkcs12_file(spec, &password).map_err(|e| failed(&e));
    }
    let (cert, key) = spec.split_once(',').unwrap_or((spec, spec));
    match Certificate::from_pem_files(cert, key) {
        Ok(c) => Ok(c),
        // A certificate alone (no key in the file): encrypt only.
        Err(data_protection::xml_encryption::CertificateError::Pem {
            what: "private key",
            ..
        }) if cert == key => {
            let text = std::fs::read(cert).map_err(|e| failed(&e))?;
            Certificate::from_pem_certificate(&text).map_err(|e| failed(&e))
        }
        Err(e) => Err(failed(&e)),
    }
}

//! The masters' TLS files and credentials: `CACertFile`, `CertFile`, `KeyFile`,
//! `MesosAuthentication`, `MesosCredentials`, `IAMConfigFile`.

use super::keys::Raw;
use super::types::{AuthMechanism, IamConfig, Spelled};
use super::{ConfigError, invalid};
use serde_json::Value;

pub(super) fn validate_certificates(raw: &Raw) -> Result<(), ConfigError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let (ca, cert, key) = (
        raw.string("CACertFile"),
        raw.string("CertFile"),
        raw.string("KeyFile"),
    );
    if !ca.is_empty() {
        let path = &ca;
        let bytes = std::fs::read(path)
            .or_else(|e| invalid(format!("CACertFile: open failed: {path}: {e}")))?;
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
        match certs {
            Ok(c) if !c.is_empty() => {}
            _ => {
                return invalid(format!(
                    "CACertFile: parsing failed: {path}: no PEM certificate"
                ));
            }
        }
    }
    match (cert.is_empty(), key.is_empty()) {
        (false, true) => return invalid("KeyFile: Missing private key for CertFile"),
        (true, false) => return invalid("CertFile: Missing certificate for KeyFile"),
        (false, false) => {
            if let Err(e) = CertificateDer::from_pem_file(&cert) {
                return invalid(format!("CertFile: {cert}: {e}"));
            }
            if let Err(e) = PrivateKeyDer::from_pem_file(&key) {
                return invalid(format!("KeyFile: {key}: {e}"));
            }
        }
        (true, true) => {}
    }
    Ok(())
}

fn load_iam(path: &str) -> Result<IamConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .or_else(|e| invalid(format!("IAMConfigFile: {path}: {e}")))?;
    let doc: Value = serde_json::from_str(&text)
        .or_else(|_| invalid(format!("IAMConfigFile: {path}: invalid IAM JSON")))?;
    let field = |name: &str| {
        doc.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let iam = IamConfig {
        uid: field("uid"),
        private_key: field("private_key"),
        login_endpoint: field("login_endpoint"),
    };
    if !iam.login_endpoint.is_empty() && !is_http_url(&iam.login_endpoint) {
        return invalid(format!(
            "IAMConfigFile: {path}: login_endpoint {:?} is not an http(s) URL",
            iam.login_endpoint
        ));
    }
    Ok(iam)
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    })
}

pub(super) fn validate_auth(raw: &Raw) -> Result<(AuthMechanism, Option<IamConfig>), ConfigError> {
    let iam_file = raw.string("IAMConfigFile");
    let iam = if iam_file.is_empty() {
        None
    } else {
        Some(load_iam(&iam_file)?)
    };
    let credentials = raw.credentials("MesosCredentials");
    let written = raw.string("MesosAuthentication");
    let Some(mechanism) = AuthMechanism::from_name(&written) else {
        return invalid(format!(
            "MesosAuthentication: unknown mechanism {written:?} (use {})",
            AuthMechanism::choices()
        ));
    };
    match mechanism {
        AuthMechanism::Basic
            if credentials.principal.is_empty() && credentials.secret.is_empty() =>
        {
            return invalid(
                "MesosCredentials: invalid HTTP Basic configuration: principal and secret are both empty",
            );
        }
        AuthMechanism::Iam => match &iam {
            None => {
                return invalid(
                    "IAMConfigFile: missing configuration for specified authentication mechanism iam",
                );
            }
            Some(c)
                if c.uid.is_empty() || c.private_key.is_empty() || c.login_endpoint.is_empty() =>
            {
                return invalid(
                    "IAMConfigFile: invalid HTTP IAM configuration: uid, private_key and login_endpoint are all required",
                );
            }
            Some(_) => {}
        },
        _ => {}
    }
    Ok((mechanism, iam))
}

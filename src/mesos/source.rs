//! Where the master state comes from: a file (`StateFile`), or the first master of the
//! list that answers `/master/state`.

use super::detect::Masters;
use super::hostport::split_host_port;
use super::state::State;
use crate::config::{AuthMechanism, Config};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{path}: {error}")]
    File { path: String, error: String },
    #[error("no masters to ask")]
    NoMasters,
    #[error("master {master}: {error}")]
    Master { master: String, error: String },
}

/// A configured source of state documents.
pub enum StateSource {
    File(PathBuf),
    Masters {
        masters: Arc<Masters>,
        https: bool,
        agent: ureq::Agent,
        /// `Authorization` header value for every state request.
        authorization: Option<String>,
    },
}

impl StateSource {
    /// The state source of `config`. Fails when the TLS files cannot be read (they were
    /// checked at start-up, so only if they changed since).
    pub fn from_config(config: &Config, masters: Arc<Masters>) -> Result<StateSource, String> {
        if let Some(path) = &config.state_file {
            return Ok(StateSource::File(path.clone()));
        }
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(config.state_timeout_seconds)))
            .http_status_as_error(false)
            .user_agent("Mesos-DNS");
        if config.mesos_https_on {
            builder = builder.tls_config(tls_config(config)?);
        }
        let authorization = match config.mesos_authentication {
            AuthMechanism::Basic => {
                let c = &config.mesos_credentials;
                Some(format!(
                    "Basic {}",
                    base64(format!("{}:{}", c.principal, c.secret).as_bytes())
                ))
            }
            AuthMechanism::Iam => {
                tracing::warn!(
                    "MesosAuthentication iam: IAM login is not implemented yet; state requests carry no token"
                );
                None
            }
            AuthMechanism::None => None,
        };
        Ok(StateSource::Masters {
            masters,
            https: config.mesos_https_on,
            agent: builder.build().into(),
            authorization,
        })
    }

    /// Reads one state document.
    pub fn fetch(&self) -> Result<State, FetchError> {
        match self {
            StateSource::File(path) => {
                let file_error = |error: String| FetchError::File {
                    path: path.display().to_string(),
                    error,
                };
                let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
                State::from_reader(file).map_err(|e| file_error(e.to_string()))
            }
            StateSource::Masters {
                masters,
                https,
                agent,
                authorization,
            } => {
                let auth = authorization.as_deref();
                let mut last = FetchError::NoMasters;
                for master in masters.view().list.iter().filter(|m| !m.is_empty()) {
                    let state = match fetch_from(agent, *https, auth, master) {
                        Ok(state) => state,
                        Err(error) => {
                            last = FetchError::Master {
                                master: master.clone(),
                                error,
                            };
                            continue;
                        }
                    };
                    // Follow the leader the state names, on the leader's own port.
                    match leader_address(&state.leader) {
                        Some(leader) if leader != *master => {
                            match fetch_from(agent, *https, auth, &leader) {
                                Ok(state) => return Ok(state),
                                Err(error) => {
                                    last = FetchError::Master {
                                        master: leader,
                                        error,
                                    }
                                }
                            }
                        }
                        _ => return Ok(state),
                    }
                }
                Err(last)
            }
        }
    }
}

/// TLS to the masters: always verified, against `CACertFile`, or else the system's
/// roots (the reference turns verification off without a CA file); a client certificate
/// when `CertFile`/`KeyFile` are set.
fn tls_config(config: &Config) -> Result<ureq::tls::TlsConfig, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let read_certs = |path: &str| -> Result<Vec<Certificate<'static>>, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        CertificateDer::pem_slice_iter(&pem)
            .map(|c| c.map(|c| Certificate::from_der(c.as_ref()).to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{path}: {e}"))
    };
    let roots = if !config.ca_cert_file.is_empty() {
        RootCerts::Specific(Arc::new(read_certs(&config.ca_cert_file)?))
    } else {
        match read_certs(SYSTEM_ROOTS) {
            Ok(certs) if !certs.is_empty() => RootCerts::Specific(Arc::new(certs)),
            _ => RootCerts::WebPki,
        }
    };
    let mut tls = TlsConfig::builder().root_certs(roots);
    if !config.cert_file.is_empty() && !config.key_file.is_empty() {
        let chain = read_certs(&config.cert_file)?;
        let key_pem =
            std::fs::read(&config.key_file).map_err(|e| format!("{}: {e}", config.key_file))?;
        let key =
            PrivateKey::from_pem(&key_pem).map_err(|e| format!("{}: {e}", config.key_file))?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(tls.build())
}

/// Debian's bundle of the system's trusted roots.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Standard base64 with padding (RFC 4648), for the basic-auth header.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `ip:port` of a state's `leader` (`master@ip:port`).
fn leader_address(leader: &str) -> Option<String> {
    let (_, address) = leader.split_once('@')?;
    split_host_port(address)?;
    Some(address.to_string())
}

/// `GET /master/state`, falling back to `/master/state.json` (Mesos before 1.x) on 404.
fn fetch_from(
    agent: &ureq::Agent,
    https: bool,
    auth: Option<&str>,
    master: &str,
) -> Result<State, String> {
    let scheme = if https { "https" } else { "http" };
    for path in ["/master/state", "/master/state.json"] {
        let url = format!("{scheme}://{master}{path}");
        let mut request = agent.get(&url).header("Content-Type", "application/json");
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.call().map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        if status == 404 {
            continue;
        }
        if status != 200 {
            return Err(format!("{url}: HTTP status {status}"));
        }
        let body = response.into_body().into_reader();
        return State::from_reader(body).map_err(|e| format!("{url}: {e}"));
    }
    Err("no state endpoint (404)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn leader_addresses() {
        assert_eq!(
            leader_address("master@10.0.0.1:5050").as_deref(),
            Some("10.0.0.1:5050")
        );
        assert_eq!(
            leader_address("master@[::1]:5050").as_deref(),
            Some("[::1]:5050")
        );
        assert_eq!(leader_address(""), None);
        assert_eq!(leader_address("master@nope"), None);
    }
}

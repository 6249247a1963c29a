//! Where the master state comes from: a file (`StateFile`), or the first master of the
//! list that answers `/master/state`.

use super::detect::Masters;
use super::digest::DigestReader;
use super::events::{DocumentSender, StateRest};
use super::iam::{IamError, IamLogin};
use super::state::State;
use crate::config::{AuthMechanism, Config};
use crate::names::hostport::split_host_port;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{path}: {error}")]
    File { path: String, error: String },
    #[error("no masters to ask")]
    NoMasters,
    #[error("master {master}: {error}")]
    Master { master: String, error: String },
}

/// One decoded state document, the digest of its bytes and their number.
pub(crate) struct Fetched {
    pub document: Document,
    pub digest: u64,
    pub bytes: u64,
}

/// A decoded state document: whole, or its rest when its tasks went to a sink.
pub(crate) enum Document {
    Whole(State),
    Streamed(StateRest),
}

impl Document {
    /// The leading master's UPID the document names.
    fn leader(&self) -> &str {
        match self {
            Document::Whole(state) => &state.leader,
            Document::Streamed(rest) => &rest.without_tasks.leader,
        }
    }
}

/// Decodes a document from `reader`, taking its digest on the way; with a `sink`, its
/// tasks go there as they are decoded.
fn decode(
    reader: impl std::io::Read,
    sink: Option<&mut DocumentSender<'_>>,
) -> Result<Fetched, serde_json::Error> {
    let started = std::time::Instant::now();
    let mut reader = DigestReader::new(reader);
    let document = match sink {
        Some(sink) => {
            sink.begin();
            let mut to_sink = |list, tasks| sink.tasks(list, tasks);
            Document::Streamed(State::stream_from_reader(&mut reader, &mut to_sink)?)
        }
        None => Document::Whole(State::from_reader(&mut reader)?),
    };
    let bytes = reader.bytes();
    tracing::debug!(
        bytes,
        ms = started.elapsed().as_millis() as u64,
        "read a state document"
    );
    Ok(Fetched {
        document,
        digest: reader.digest(),
        bytes,
    })
}

/// A configured source of state documents.
pub(crate) enum StateSource {
    File(PathBuf),
    Masters {
        masters: Arc<Masters>,
        client: MasterClient,
    },
}

/// How state requests authenticate (`MesosAuthentication`).
enum Auth {
    None,
    /// A fixed `Authorization` header value (basic).
    Header(String),
    /// A token from the IAM login endpoint, renewed when it nears expiry.
    Iam(Box<IamLogin>),
}

impl Auth {
    fn header(&self, agent: &ureq::Agent) -> Result<Option<String>, IamError> {
        match self {
            Auth::None => Ok(None),
            Auth::Header(h) => Ok(Some(h.clone())),
            Auth::Iam(login) => login.authorization(agent).map(Some),
        }
    }
}

/// Why one master gave no answer.
enum MasterError {
    /// 401 or 403: the credentials were refused.
    Refused(String),
    /// A redirect to this `host:port`.
    Redirect(String),
    /// 404, 405 or 501 on the operator API (the URL and the status).
    NoApi(String, u16),
    Other(String),
}

impl MasterError {
    fn into_message(self) -> String {
        match self {
            MasterError::Refused(m) | MasterError::Other(m) => m,
            MasterError::Redirect(to) => format!("too many redirects (last to {to})"),
            MasterError::NoApi(url, status) => format!("{url}: HTTP status {status}"),
        }
    }
}

/// The answers every master request treats alike: 200 is the response; credentials
/// refused, redirects and other statuses are errors.
fn check_status(
    url: &str,
    response: ureq::http::Response<ureq::Body>,
) -> Result<ureq::http::Response<ureq::Body>, MasterError> {
    match response.status().as_u16() {
        200 => Ok(response),
        status @ (401 | 403) => Err(MasterError::Refused(format!(
            "{url}: HTTP status {status} (credentials refused)"
        ))),
        301 | 302 | 303 | 307 | 308 => {
            let location = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or("");
            match redirect_authority(location) {
                Some(to) => Err(MasterError::Redirect(to)),
                None => Err(MasterError::Other(format!(
                    "{url}: unusable redirect to {location:?}"
                ))),
            }
        }
        status => Err(MasterError::Other(format!("{url}: HTTP status {status}"))),
    }
}

impl StateSource {
    /// The masters to subscribe to, in order, and the client to do it with; `None` for a
    /// state file.
    pub(crate) fn masters(&self) -> Option<(Vec<String>, &MasterClient)> {
        match self {
            StateSource::File(_) => None,
            StateSource::Masters { masters, client } => Some((
                masters
                    .view()
                    .list
                    .into_iter()
                    .filter(|m| !m.is_empty())
                    .collect(),
                client,
            )),
        }
    }

    /// The state source of `config`. Fails when the TLS files cannot be read (checked at
    /// start-up, so only if they changed since) or the IAM private key is unusable.
    pub(crate) fn from_config(
        config: &Config,
        masters: Arc<Masters>,
    ) -> Result<StateSource, SourceError> {
        if let Some(path) = &config.state_file {
            return Ok(StateSource::File(path.clone()));
        }
        let timeout = Duration::from_secs(config.state_timeout_seconds);
        let base = || {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .user_agent("Mesos-DNS")
                .max_redirects(0)
                .max_redirects_will_error(false)
        };
        let mut builder = base().timeout_global(Some(timeout));
        // A stream lasts as long as the subscription: no overall deadline, but the
        // connection and the answer's head must come in time, and every read is bounded
        // by the heartbeat watchdog (set per subscription).
        let mut stream_builder = base()
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout));
        if config.mesos_https_on {
            let tls = tls_config(config)?;
            builder = builder.tls_config(tls.clone());
            stream_builder = stream_builder.tls_config(tls);
        }
        let auth = match config.mesos_authentication {
            AuthMechanism::Basic => {
                let c = &config.mesos_credentials;
                Auth::Header(format!(
                    "Basic {}",
                    BASE64.encode(format!("{}:{}", c.principal, c.secret).as_bytes())
                ))
            }
            AuthMechanism::Iam => match &config.iam {
                Some(iam) => Auth::Iam(Box::new(IamLogin::new(iam)?)),
                None => return Err(SourceError::IamWithoutConfig),
            },
            AuthMechanism::None => Auth::None,
        };
        Ok(StateSource::Masters {
            masters,
            client: MasterClient {
                https: config.mesos_https_on,
                agent: builder.build().into(),
                stream_agent: stream_builder.build().into(),
                auth,
            },
        })
    }

    /// Reads one state document; with a `sink`, its tasks go there as they are decoded.
    pub(crate) fn fetch(
        &self,
        mut sink: Option<&mut DocumentSender<'_>>,
    ) -> Result<Fetched, FetchError> {
        match self {
            StateSource::File(path) => {
                let file_error = |error: String| FetchError::File {
                    path: path.display().to_string(),
                    error,
                };
                let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
                decode(file, sink).map_err(|e| file_error(e.to_string()))
            }
            StateSource::Masters { masters, client } => {
                let mut last = FetchError::NoMasters;
                for master in masters.view().list.iter().filter(|m| !m.is_empty()) {
                    let (fetched, answered_by) = match client.state(master, sink.as_deref_mut()) {
                        Ok(found) => found,
                        Err(error) => {
                            last = FetchError::Master {
                                master: master.clone(),
                                error,
                            };
                            continue;
                        }
                    };
                    // Follow the leader the state names, on the leader's own port.
                    match leader_address(fetched.document.leader()) {
                        Some(leader) if leader != answered_by => {
                            match client.state(&leader, sink.as_deref_mut()) {
                                Ok((fetched, _)) => return Ok(fetched),
                                Err(error) => {
                                    last = FetchError::Master {
                                        master: leader,
                                        error,
                                    }
                                }
                            }
                        }
                        _ => return Ok(fetched),
                    }
                }
                Err(last)
            }
        }
    }
}

/// Redirects followed from one master (a non-leading Mesos master redirects to the leader).
const MAX_REDIRECTS: usize = 3;

/// Asks masters for their state over one agent, with the configured authentication.
pub(crate) struct MasterClient {
    https: bool,
    agent: ureq::Agent,
    /// For the operator API stream.
    stream_agent: ureq::Agent,
    auth: Auth,
}

/// Why a subscription could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SubscribeError {
    /// 404, 405 or 501: this master has no operator API (Mesos before 1.0, or not a
    /// Mesos master).
    #[error("{0}: no operator API (HTTP status {1})")]
    NoApi(String, u16),
    #[error("{0}")]
    Failed(String),
}

/// An open subscription: the event stream, and the master that answered it.
pub(crate) struct Subscription {
    pub body: ureq::BodyReader<'static>,
    pub master: String,
}

impl MasterClient {
    /// The state of `master`, and the master that finally answered: redirects are followed
    /// here rather than by the HTTP client, so that credentials go only to masters named
    /// by a master, and so the leader is not asked twice. An IAM token a master refuses is
    /// renewed once (it may have been revoked, or the clocks disagree about its expiry).
    fn state(
        &self,
        master: &str,
        mut sink: Option<&mut DocumentSender<'_>>,
    ) -> Result<(Fetched, String), String> {
        self.ask(master, |auth, master| {
            self.get_state(auth, master, sink.as_deref_mut())
        })
        .map_err(MasterError::into_message)
    }

    /// Runs `request` against `master` and the masters its redirects name, at most
    /// [`MAX_REDIRECTS`] of them; an IAM token a master refuses is renewed once. Returns
    /// the answer and the master that gave it.
    fn ask<T>(
        &self,
        master: &str,
        mut request: impl FnMut(Option<&str>, &str) -> Result<T, MasterError>,
    ) -> Result<(T, String), MasterError> {
        let mut master = master.to_string();
        let mut renewed = false;
        let mut redirects = 0;
        loop {
            let header = self
                .auth
                .header(&self.agent)
                .map_err(|e| MasterError::Other(e.to_string()))?;
            match request(header.as_deref(), &master) {
                Ok(answer) => return Ok((answer, master)),
                Err(MasterError::Redirect(to)) if redirects < MAX_REDIRECTS => {
                    redirects += 1;
                    master = to;
                }
                Err(MasterError::Refused(message)) => match &self.auth {
                    Auth::Iam(login) if !renewed => {
                        renewed = true;
                        login.invalidate();
                    }
                    _ => return Err(MasterError::Refused(message)),
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// `POST /api/v1 {"type":"SUBSCRIBE"}` to `master`, following redirects to the
    /// leader ourselves (credentials go only to masters a master named); every read of
    /// the stream may take at most `per_read`.
    pub(crate) fn subscribe(
        &self,
        master: &str,
        per_read: Duration,
    ) -> Result<Subscription, SubscribeError> {
        let post = |auth: Option<&str>, master: &str| {
            let scheme = if self.https { "https" } else { "http" };
            let url = format!("{scheme}://{master}/api/v1");
            let mut request = self
                .stream_agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json");
            if let Some(auth) = auth {
                request = request.header("Authorization", auth);
            }
            let response = request
                .config()
                .timeout_per_read(Some(per_read))
                .build()
                .send(r#"{"type":"SUBSCRIBE"}"#)
                .map_err(|e| MasterError::Other(format!("{url}: {e}")))?;
            match response.status().as_u16() {
                status @ (404 | 405 | 501) => Err(MasterError::NoApi(url, status)),
                _ => Ok(check_status(&url, response)?.into_body().into_reader()),
            }
        };
        match self.ask(master, post) {
            Ok((body, master)) => Ok(Subscription { body, master }),
            Err(MasterError::NoApi(url, status)) => Err(SubscribeError::NoApi(url, status)),
            Err(e) => Err(SubscribeError::Failed(e.into_message())),
        }
    }

    /// `GET /master/state`, falling back to `/master/state.json` (Mesos before 1.x) on 404.
    fn get_state(
        &self,
        auth: Option<&str>,
        master: &str,
        sink: Option<&mut DocumentSender<'_>>,
    ) -> Result<Fetched, MasterError> {
        let scheme = if self.https { "https" } else { "http" };
        for path in ["/master/state", "/master/state.json"] {
            let url = format!("{scheme}://{master}{path}");
            let mut request = self
                .agent
                .get(&url)
                .header("Content-Type", "application/json");
            if let Some(auth) = auth {
                request = request.header("Authorization", auth);
            }
            let response = request
                .call()
                .map_err(|e| MasterError::Other(format!("{url}: {e}")))?;
            if response.status().as_u16() == 404 {
                continue;
            }
            let response = check_status(&url, response)?;
            let body = response.into_body().into_reader();
            return decode(body, sink).map_err(|e| MasterError::Other(format!("{url}: {e}")));
        }
        Err(MasterError::Other("no state endpoint (404)".into()))
    }
}

/// The `host:port` a redirect points at: Mesos sends `//host:port/master/state`; absolute
/// URLs are accepted too. Anything without an explicit port is refused.
fn redirect_authority(location: &str) -> Option<String> {
    let rest = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("https://"))
        .or_else(|| location.strip_prefix("//"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    split_host_port(authority)?;
    Some(authority.to_string())
}

/// TLS to the masters: always verified, against `CACertFile`, or else the system's
/// roots (the reference turns verification off without a CA file); a client certificate
/// when `CertFile`/`KeyFile` are set.
fn tls_config(config: &Config) -> Result<ureq::tls::TlsConfig, SourceError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let read_certs = |path: &str| -> Result<Vec<Certificate<'static>>, SourceError> {
        let pem = std::fs::read(path).map_err(|e| SourceError::tls(path, e))?;
        CertificateDer::pem_slice_iter(&pem)
            .map(|c| c.map(|c| Certificate::from_der(c.as_ref()).to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SourceError::tls(path, e))
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
            std::fs::read(&config.key_file).map_err(|e| SourceError::tls(&config.key_file, e))?;
        let key =
            PrivateKey::from_pem(&key_pem).map_err(|e| SourceError::tls(&config.key_file, e))?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(tls.build())
}

/// Why the masters cannot be asked as configured.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A certificate or key file could not be read.
    #[error("{path}: {detail}")]
    Tls { path: String, detail: String },
    #[error(transparent)]
    Iam(#[from] IamError),
    #[error("MesosAuthentication iam needs IAMConfigFile")]
    IamWithoutConfig,
}

impl SourceError {
    fn tls(path: &str, detail: impl std::fmt::Display) -> SourceError {
        SourceError::Tls {
            path: path.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Debian's bundle of the system's trusted roots.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The `ip:port` of a state's `leader` (`master@ip:port`).
fn leader_address(leader: &str) -> Option<String> {
    let (_, address) = leader.split_once('@')?;
    split_host_port(address)?;
    Some(address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn redirect_targets() {
        for (location, want) in [
            ("//10.0.0.2:5050/master/state", Some("10.0.0.2:5050")),
            ("http://10.0.0.2:5050/master/state", Some("10.0.0.2:5050")),
            ("https://[::1]:5050", Some("[::1]:5050")),
            ("//10.0.0.2/master/state", None),
            ("/master/state", None),
            ("", None),
        ] {
            assert_eq!(redirect_authority(location).as_deref(), want, "{location}");
        }
    }
}

//! Where the master state comes from: a file (`StateFile`), or the first master of the
//! list that answers `/master/state`.

use super::detect::Masters;
use super::hostport::split_host_port;
use super::state::State;
use crate::config::Config;
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
    },
}

impl StateSource {
    pub fn from_config(config: &Config, masters: Arc<Masters>) -> StateSource {
        if let Some(path) = &config.state_file {
            return StateSource::File(path.clone());
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(config.state_timeout_seconds)))
            .http_status_as_error(false)
            .user_agent("Mesos-DNS")
            .build()
            .into();
        StateSource::Masters {
            masters,
            https: config.mesos_https_on,
            agent,
        }
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
            } => {
                let mut last = FetchError::NoMasters;
                for master in masters.view().list.iter().filter(|m| !m.is_empty()) {
                    let state = match fetch_from(agent, *https, master) {
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
                            match fetch_from(agent, *https, &leader) {
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

/// The `ip:port` of a state's `leader` (`master@ip:port`).
fn leader_address(leader: &str) -> Option<String> {
    let (_, address) = leader.split_once('@')?;
    split_host_port(address)?;
    Some(address.to_string())
}

/// `GET /master/state`, falling back to `/master/state.json` (Mesos before 1.x) on 404.
fn fetch_from(agent: &ureq::Agent, https: bool, master: &str) -> Result<State, String> {
    let scheme = if https { "https" } else { "http" };
    for path in ["/master/state", "/master/state.json"] {
        let url = format!("{scheme}://{master}{path}");
        let response = agent.get(&url).call().map_err(|e| e.to_string())?;
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

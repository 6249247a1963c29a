//! `config.json` → [`Config`], as Mesos-DNS reads it (docs/spec/mesos-dns-behavior.md §2), with clear errors where
//! the reference crashes later or accepts nonsense.
//!
//! Keys match ASCII-case-insensitively; a key no row knows is ignored with a warning;
//! `null` leaves a scalar at its default and empties a list or map. Validation runs in
//! the order of docs/spec/mesos-dns-behavior.md §2.3, then the checks the reference lacks (ports, periods,
//! listeners). Every failure is one line naming the key.
//!
//! `keys.rs` holds one row per key (parsing, `/v1/config`, SIGHUP); `types.rs` the
//! validated configuration; `validate.rs` the checks; `auth.rs` the masters' TLS and
//! credentials.

mod auth;
pub(crate) mod keys;
mod types;
mod validate;

pub use types::*;
pub use validate::{DCOS_DIRECTORY, is_valid_domain};

use crate::dns::tsig::TsigKey;
use serde_json::Value;
use std::path::Path;

/// One clear line saying what is wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

impl Config {
    /// `TransferTSIG`'s key (validated at load to be one of `TSIGKeys`).
    pub fn transfer_key(&self) -> Option<&TsigKey> {
        let name = self.transfer_tsig.as_ref()?;
        self.tsig_keys.iter().find(|k| k.is_named(name))
    }

    /// Loads and validates the file at `path` (as given on the command line).
    pub fn load(path: &str, env: &Environment) -> Result<Config, ConfigError> {
        let abs = expand_config_path(path, env);
        let text = std::fs::read_to_string(&abs).or_else(|_| {
            invalid(format!(
                "missing configuration file: {:?}",
                abs.display().to_string()
            ))
        })?;
        let config = Config::from_json(&text, &abs, env)?;
        // The document parsed above, so it parses here too.
        if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(&text) {
            for warning in keys::unknown_key_warnings(&doc) {
                tracing::warn!("config {:?}: {warning}", abs.display().to_string());
            }
        }
        Ok(config)
    }

    /// What [`Config::load`] warns about a document: its keys that no row knows.
    pub fn unknown_key_warnings(text: &str) -> Vec<String> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(doc)) => keys::unknown_key_warnings(&doc),
            _ => Vec::new(),
        }
    }

    /// Validates a configuration document; `file` is where it came from.
    pub fn from_json(text: &str, file: &Path, env: &Environment) -> Result<Config, ConfigError> {
        let unmarshal = |detail: String| {
            ConfigError(format!(
                "failed to unmarshal config file {:?}: {detail}",
                file.display().to_string()
            ))
        };
        let doc: Value = serde_json::from_str(text).map_err(|e| unmarshal(e.to_string()))?;
        let Value::Object(doc) = doc else {
            return Err(unmarshal("the document must be a JSON object".into()));
        };
        let raw = keys::Raw::from_document(&doc).map_err(|e| unmarshal(e.0))?;
        validate::validate(&raw, file, env)
    }

    /// The label rules in force.
    pub fn label_spec(&self) -> crate::names::labels::LabelSpec {
        if self.enforce_rfc952 {
            crate::names::labels::LabelSpec::Rfc952
        } else {
            crate::names::labels::LabelSpec::Rfc1123
        }
    }
}

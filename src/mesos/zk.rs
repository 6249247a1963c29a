//! The `Zk` setting: `zk://[user:pass@]host:port,host:port/path`.

/// `zk://[user:pass@]host:port,host:port/path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ZkUrl {
    pub hosts: Vec<String>,
    pub path: String,
}

/// Why a `Zk` setting is not a ZooKeeper URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZkUrlError {
    #[error("{0:?} does not start with zk://")]
    Scheme(String),
    #[error("{0:?} has no path")]
    NoPath(String),
    #[error("{0:?} needs hosts and a path")]
    Incomplete(String),
}

impl ZkUrl {
    /// Parses `zk://[user:pass@]host:port,host:port/path`.
    pub(crate) fn parse(url: &str) -> Result<ZkUrl, ZkUrlError> {
        let rest = url
            .strip_prefix("zk://")
            .ok_or_else(|| ZkUrlError::Scheme(url.into()))?;
        let (authority, path) = rest.split_at(
            rest.find('/')
                .ok_or_else(|| ZkUrlError::NoPath(url.into()))?,
        );
        // User information is dropped, as the reference does (no ZooKeeper auth).
        let hosts = authority.rsplit('@').next().unwrap_or(authority);
        let hosts: Vec<String> = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        if hosts.is_empty() || path.len() < 2 {
            return Err(ZkUrlError::Incomplete(url.into()));
        }
        Ok(ZkUrl {
            hosts,
            path: path.trim_end_matches('/').to_string(),
        })
    }
}

/// The single-threaded runtime a ZooKeeper client runs on (off the query path); `None`,
/// logged as `what` cannot work, when the system refuses one.
pub(crate) fn client_runtime(what: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            tracing::error!("{what}: no async runtime: {e}");
            None
        }
    }
}

/// Resolves once `stop` is given (the ZooKeeper threads look at it between waits).
pub(crate) async fn stopped(stop: &crate::stop::Stop) {
    while !stop.is_stopped() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // ok: tests may panic
    use super::*;

    #[test]
    fn urls() {
        let u = ZkUrl::parse("zk://user:pw@10.0.0.1:2181,10.0.0.2:2181/mesos").unwrap();
        assert_eq!(u.hosts, ["10.0.0.1:2181", "10.0.0.2:2181"]);
        assert_eq!(u.path, "/mesos");
        assert!(ZkUrl::parse("http://a/b").is_err());
        assert!(ZkUrl::parse("zk://a:1").is_err());
        assert!(ZkUrl::parse("zk:///mesos").is_err());
    }
}

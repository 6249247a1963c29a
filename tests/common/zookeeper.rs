//! A real ZooKeeper (Debian's `zookeeper` package) on a free loopback port with its own
//! data directory, for the detection tests.

use super::server::{free_port, temp_dir};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zookeeper_client as zk;

const TICK_MS: u64 = 200;
/// The longest session the test server grants (20 ticks).
pub const MAX_SESSION: Duration = Duration::from_millis(20 * TICK_MS);

pub struct ZooKeeper {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn classpath() -> String {
    let wanted = [
        "zookeeper-3",
        "zookeeper-jute-3",
        "slf4j-api",
        "netty-",
        "commons-cli",
        "commons-io",
        "log4j-1.2-",
        "metrics-core-",
        "snappy-java",
    ];
    let mut jars: Vec<String> = std::fs::read_dir("/usr/share/java")
        .expect("Debian's zookeeper package is needed by the ZooKeeper tests")
        .filter_map(|e| e.ok())
        .map(|e| e.path().display().to_string())
        .filter(|p| {
            p.ends_with(".jar")
                && wanted
                    .iter()
                    .any(|w| p.rsplit('/').next().unwrap_or("").starts_with(w))
        })
        .collect();
    jars.sort();
    jars.join(":")
}

impl ZooKeeper {
    pub fn start() -> ZooKeeper {
        let mut zk = ZooKeeper {
            child: None,
            port: free_port(),
            dir: temp_dir(),
        };
        zk.restart();
        zk
    }

    /// (Re)starts the server on the same port and data directory.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("java")
            .args([
                "-Xmx128m",
                "-Dzookeeper.admin.enableServer=false",
                "-cp",
                &classpath(),
            ])
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(self.port.to_string())
            .arg(self.dir.join("data"))
            // tickTime: sessions may last 2 to 20 ticks, so ours (asked for 10 s) gets 4 s
            // and an expiry can be forced in seconds.
            .arg(TICK_MS.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java is needed by the ZooKeeper tests");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Admin::connect(&self.host()).is_none() {
            assert!(Instant::now() < deadline, "ZooKeeper did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A session for the test to change the master group with.
    pub fn session(&self) -> Admin {
        Admin::connect(&self.host()).expect("ZooKeeper is up")
    }
}

/// A blocking ZooKeeper client for the tests (zookeeper-client on its own runtime).
pub struct Admin {
    runtime: tokio::runtime::Runtime,
    client: zk::Client,
}

impl Admin {
    fn connect(host: &str) -> Option<Admin> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let client = runtime.block_on(async {
            let connect = zk::Client::connector().with_fail_eagerly().connect(host);
            tokio::time::timeout(Duration::from_secs(10), connect).await
        });
        Some(Admin {
            client: client.ok()?.ok()?,
            runtime,
        })
    }

    /// Creates `path` (with a sequence number appended when `sequential`); returns its path.
    pub fn create(&mut self, path: &str, data: &[u8], sequential: bool) -> String {
        let mode = if sequential {
            zk::CreateMode::PersistentSequential
        } else {
            zk::CreateMode::Persistent
        };
        let options = mode.with_acls(zk::Acls::anyone_all());
        let (_, sequence) = self
            .runtime
            .block_on(self.client.create(path, data, &options))
            .unwrap();
        if sequential {
            format!("{path}{sequence}")
        } else {
            path.to_string()
        }
    }

    pub fn delete(&mut self, path: &str) {
        self.runtime
            .block_on(self.client.delete(path, None))
            .unwrap();
    }

    pub fn children(&mut self, path: &str) -> Vec<String> {
        self.runtime
            .block_on(self.client.list_children(path))
            .unwrap()
    }
}

/// MasterInfo JSON as Mesos writes it into `json.info_*` nodes.
pub fn master_info(id: &str, port: u16) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": id, "hostname": "localhost", "port": port,
        "address": {"hostname": "localhost", "ip": "127.0.0.1", "port": port},
        "version": "1.11.0"
    }))
    .unwrap()
}

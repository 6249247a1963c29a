//! A small ZooKeeper client, blocking, for one job: watch the Mesos master group. It
//! speaks just enough of the protocol (connect, getChildren, getData, exists, ping, watch
//! notifications); the detector thread owns it, so nothing here is near the query path.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

const OP_CREATE: i32 = 1;
const OP_DELETE: i32 = 2;
const OP_EXISTS: i32 = 3;
const OP_GET_DATA: i32 = 4;
const OP_GET_CHILDREN: i32 = 8;
const OP_PING: i32 = 11;
const XID_WATCH: i32 = -1;
const XID_PING: i32 = -2;
pub const ERR_NO_NODE: i32 = -101;
/// Frames larger than this are refused (master group znodes are small).
const MAX_FRAME: usize = 16 << 20;

/// `zk://[user:pass@]host:port,host:port/path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkUrl {
    pub hosts: Vec<String>,
    pub path: String,
}

impl ZkUrl {
    pub fn parse(url: &str) -> Result<ZkUrl, String> {
        let rest = url
            .strip_prefix("zk://")
            .ok_or_else(|| format!("{url:?} does not start with zk://"))?;
        let (authority, path) = rest.split_at(
            rest.find('/')
                .ok_or_else(|| format!("{url:?} has no path"))?,
        );
        // User information is dropped, as the reference does (no ZooKeeper auth).
        let hosts = authority.rsplit('@').next().unwrap_or(authority);
        let hosts: Vec<String> = hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect();
        if hosts.is_empty() || path.len() < 2 {
            return Err(format!("{url:?} needs hosts and a path"));
        }
        Ok(ZkUrl {
            hosts,
            path: path.trim_end_matches('/').to_string(),
        })
    }
}

/// What a read from the server can bring.
#[derive(Debug)]
pub enum Incoming {
    Reply {
        xid: i32,
        err: i32,
        body: Vec<u8>,
    },
    /// A watch fired (event type, path).
    Watch {
        event: i32,
        path: String,
    },
}

/// One ZooKeeper session over one TCP connection.
pub struct Session {
    stream: TcpStream,
    next_xid: i32,
    pub timeout: Duration,
}

struct Writer(Vec<u8>);

impl Writer {
    fn i32(&mut self, v: i32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.i32(v.len() as i32);
        self.0.extend_from_slice(v);
        self
    }
    fn bool(&mut self, v: bool) -> &mut Self {
        self.0.push(u8::from(v));
        self
    }
}

/// Reads jute-encoded fields; every read is bounds-checked.
pub struct Reader<'a>(&'a [u8], usize);

fn short() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "short ZooKeeper message")
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader(b, 0)
    }
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let s = self.0.get(self.1..self.1 + n).ok_or_else(short)?;
        self.1 += n;
        Ok(s)
    }
    pub fn i32(&mut self) -> io::Result<i32> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().map_err(|_| short())?,
        ))
    }
    pub fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().map_err(|_| short())?,
        ))
    }
    /// A buffer or string; -1 (null) reads as empty.
    pub fn bytes(&mut self) -> io::Result<&'a [u8]> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(&[]);
        }
        self.take(n as usize)
    }
    pub fn string(&mut self) -> io::Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }
}

fn resolve(host: &str) -> io::Result<Vec<SocketAddr>> {
    Ok(host.to_socket_addrs()?.collect())
}

impl Session {
    /// Connects to the first host that accepts a session.
    pub fn connect(hosts: &[String], timeout: Duration) -> io::Result<Session> {
        let mut last = io::Error::new(io::ErrorKind::NotConnected, "no ZooKeeper host");
        for host in hosts {
            for addr in resolve(host).unwrap_or_default() {
                match Session::connect_to(addr, timeout) {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }

    fn connect_to(addr: SocketAddr, timeout: Duration) -> io::Result<Session> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut s = Session {
            stream,
            next_xid: 1,
            timeout,
        };
        let mut w = Writer(Vec::new());
        w.i32(0)
            .i64(0)
            .i32(timeout.as_millis() as i32)
            .i64(0)
            .bytes(&[0; 16])
            .bool(false);
        s.send_frame(&w.0)?;
        let frame = s.read_frame()?;
        let mut r = Reader::new(&frame);
        let _protocol = r.i32()?;
        let negotiated = r.i32()?;
        let session_id = r.i64()?;
        if negotiated <= 0 || session_id == 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "ZooKeeper refused the session",
            ));
        }
        s.timeout = Duration::from_millis(negotiated as u64);
        Ok(s)
    }

    fn send_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(payload.len() + 4);
        frame.extend_from_slice(&(payload.len() as i32).to_be_bytes());
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame)
    }

    fn read_frame(&mut self) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad ZooKeeper frame length",
            ));
        }
        let mut buf = vec![0u8; len as usize];
        self.stream.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Sends a request; returns its xid.
    fn request(&mut self, op: i32, path: &str, watch: bool) -> io::Result<i32> {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        let mut w = Writer(Vec::new());
        w.i32(xid).i32(op).bytes(path.as_bytes()).bool(watch);
        self.send_frame(&w.0)?;
        Ok(xid)
    }

    pub fn ping(&mut self) -> io::Result<()> {
        let mut w = Writer(Vec::new());
        w.i32(XID_PING).i32(OP_PING);
        self.send_frame(&w.0)
    }

    /// Reads one message, waiting at most `wait` (a timeout is `WouldBlock`/`TimedOut`).
    pub fn read(&mut self, wait: Duration) -> io::Result<Incoming> {
        self.stream
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        let frame = self.read_frame()?;
        let mut r = Reader::new(&frame);
        let xid = r.i32()?;
        let _zxid = r.i64()?;
        let err = r.i32()?;
        if xid == XID_WATCH {
            let event = r.i32()?;
            let _state = r.i32()?;
            let path = r.string()?;
            return Ok(Incoming::Watch { event, path });
        }
        Ok(Incoming::Reply {
            xid,
            err,
            body: frame[16..].to_vec(),
        })
    }

    /// Waits for the reply to `xid`, passing on watch events seen meanwhile.
    fn reply(&mut self, xid: i32, events: &mut Vec<(i32, String)>) -> io::Result<(i32, Vec<u8>)> {
        loop {
            match self.read(Duration::from_secs(5))? {
                Incoming::Reply { xid: x, err, body } if x == xid => return Ok((err, body)),
                Incoming::Reply { .. } => {}
                Incoming::Watch { event, path } => events.push((event, path)),
            }
        }
    }

    /// Children of `path` (setting a watch if asked); `Ok(None)` when it does not exist.
    pub fn children(
        &mut self,
        path: &str,
        watch: bool,
        events: &mut Vec<(i32, String)>,
    ) -> io::Result<Option<Vec<String>>> {
        let xid = self.request(OP_GET_CHILDREN, path, watch)?;
        let (err, body) = self.reply(xid, events)?;
        if err == ERR_NO_NODE {
            return Ok(None);
        }
        zk_error(err)?;
        let mut r = Reader::new(&body);
        let n = r.i32()?;
        (0..n.max(0))
            .map(|_| r.string())
            .collect::<io::Result<Vec<_>>>()
            .map(Some)
    }

    /// Data of `path`; `Ok(None)` when it does not exist.
    pub fn data(
        &mut self,
        path: &str,
        events: &mut Vec<(i32, String)>,
    ) -> io::Result<Option<Vec<u8>>> {
        let xid = self.request(OP_GET_DATA, path, false)?;
        let (err, body) = self.reply(xid, events)?;
        if err == ERR_NO_NODE {
            return Ok(None);
        }
        zk_error(err)?;
        Ok(Some(Reader::new(&body).bytes()?.to_vec()))
    }

    /// Sets a watch for `path` to be created (or changed); true when it exists.
    pub fn exists_watch(
        &mut self,
        path: &str,
        events: &mut Vec<(i32, String)>,
    ) -> io::Result<bool> {
        let xid = self.request(OP_EXISTS, path, true)?;
        let (err, _) = self.reply(xid, events)?;
        if err == ERR_NO_NODE {
            return Ok(false);
        }
        zk_error(err)?;
        Ok(true)
    }
}

impl Session {
    /// Creates a node open to everyone; `flags`: 1 ephemeral, 2 sequential (3 both, as
    /// Mesos masters do). Returns the created path. (The detector never writes; tests use
    /// this to play masters.)
    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> io::Result<String> {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        let mut w = Writer(Vec::new());
        w.i32(xid).i32(OP_CREATE).bytes(path.as_bytes()).bytes(data);
        // One ACL: all permissions for world:anyone.
        w.i32(1).i32(31).bytes(b"world").bytes(b"anyone").i32(flags);
        self.send_frame(&w.0)?;
        let (err, body) = self.reply(xid, &mut Vec::new())?;
        zk_error(err)?;
        Reader::new(&body).string()
    }

    /// Deletes a node (any version).
    pub fn delete(&mut self, path: &str) -> io::Result<()> {
        let xid = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        let mut w = Writer(Vec::new());
        w.i32(xid).i32(OP_DELETE).bytes(path.as_bytes()).i32(-1);
        self.send_frame(&w.0)?;
        let (err, _) = self.reply(xid, &mut Vec::new())?;
        zk_error(err)
    }
}

fn zk_error(err: i32) -> io::Result<()> {
    if err == 0 {
        Ok(())
    } else {
        Err(io::Error::other(format!("ZooKeeper error {err}")))
    }
}

#[cfg(test)]
mod tests {
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

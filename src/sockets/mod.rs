//! The DNS sockets: binding them for `Listener` (SO_REUSEPORT, dual stack for the
//! wildcard) and the batched receive and send calls of the UDP workers.

pub mod batch;

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The address to bind for `Listener`: a wildcard (`0.0.0.0` or `::`) means every
/// address of both families, as Mesos-DNS does, so it becomes a dual-stack `[::]`
/// socket.
pub fn bind_address(listener: IpAddr, port: u16) -> (SocketAddr, bool) {
    if listener.is_unspecified() {
        (
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            true,
        )
    } else {
        (SocketAddr::new(listener, port), false)
    }
}

/// A socket bound to `addr` with SO_REUSEPORT (so every worker can own one).
/// `dual_stack` also accepts IPv4 on a `[::]` socket; if this host has no IPv6, the
/// caller falls back to `0.0.0.0`.
pub fn bound_socket(addr: SocketAddr, kind: Type, dual_stack: bool) -> io::Result<Socket> {
    let protocol = if kind == Type::DGRAM {
        Protocol::UDP
    } else {
        Protocol::TCP
    };
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    socket.set_reuse_port(true)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(!dual_stack)?;
    }
    if kind == Type::DGRAM {
        // Room for bursts: the kernel caps these at net.core.[rw]mem_max.
        let _ = socket.set_recv_buffer_size(8 << 20);
        let _ = socket.set_send_buffer_size(8 << 20);
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Whether another socket already holds the UDP port of `addr` (a process serving the
/// same `Listener` and `Port`): a bind without SO_REUSEPORT then fails. The probe is a
/// plain socket, so it never joins (and never takes datagrams from) a shared port.
pub fn udp_port_taken(addr: SocketAddr, dual_stack: bool) -> bool {
    if addr.port() == 0 {
        return false;
    }
    let probe = || -> io::Result<()> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if addr.is_ipv6() {
            socket.set_only_v6(!dual_stack)?;
        }
        socket.bind(&addr.into())
    };
    matches!(probe(), Err(e) if e.kind() == io::ErrorKind::AddrInUse)
}

/// Stops the kernel choosing this SO_REUSEPORT UDP socket for new datagrams, while what
/// it already queued stays readable: the kernel leaves connected sockets out of a
/// reuseport group's choice (and a wildcard-bound one leaves the group). The peer is one
/// that never sends a query: the socket's own address when it has one (always
/// routable), else the loopback discard port. Once quiesced, a socket never rejoins:
/// undoing the connect leaves the group choosing one socket for everything (seen on
/// Linux 6.x), so a socket that is to serve again is bound afresh instead.
pub fn quiesce(socket: &Socket) -> io::Result<()> {
    let local = socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))?;
    let nobody: SocketAddr = match local.ip() {
        ip if !ip.is_unspecified() => local,
        IpAddr::V6(_) => (Ipv6Addr::LOCALHOST, DISCARD_PORT).into(),
        IpAddr::V4(_) => (std::net::Ipv4Addr::LOCALHOST, DISCARD_PORT).into(),
    };
    socket.connect(&nobody.into())
}

/// The discard port (RFC 863): nothing answers a DNS server from it.
const DISCARD_PORT: u16 = 9;

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

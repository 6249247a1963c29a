//! Batched UDP receive and send (`recvmmsg` / `sendmmsg`), with the destination address
//! of each query (IP_PKTINFO / IPV6_PKTINFO) so that replies from a wildcard-bound socket
//! leave from the address the query reached.
//!
//! This is the crate's only `unsafe` code: the kernel fills caller-owned arrays of
//! message headers whose pointers refer to buffers in the same struct. The headers are
//! rebuilt before every call, so no pointer outlives a reallocation, and every length the
//! kernel reports is clamped to the buffer it describes.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Room for the control messages of one datagram: a dual-stack socket reports an IPv4
/// query with both IPV6_PKTINFO and IP_PKTINFO.
const CONTROL_LEN: usize = 128;

/// Whether a receive waits for a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Until one arrives (or the socket's read timeout passes).
    ForOne,
    /// Not at all: what is queued now, if anything.
    No,
}

/// Where a query arrived: the local address to answer from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalAddr {
    /// Not reported.
    Unknown,
    /// An IPv4 destination.
    V4 {
        /// The address.
        addr: Ipv4Addr,
        /// The interface it arrived on.
        ifindex: i32,
    },
    /// An IPv6 destination.
    V6 {
        /// The address.
        addr: Ipv6Addr,
        /// The interface it arrived on.
        ifindex: u32,
    },
}

/// Asks the kernel to report each datagram's destination address.
pub fn enable_pktinfo(fd: BorrowedFd<'_>, ipv6: bool) -> io::Result<()> {
    let on: libc::c_int = 1;
    let (level, name) = if ipv6 {
        (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO)
    } else {
        (libc::IPPROTO_IP, libc::IP_PKTINFO)
    };
    // SAFETY: `on` is a valid c_int for the duration of the call; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A batch of datagram buffers with their peer addresses and control data.
pub struct Batch {
    size: usize,
    slot: usize,
    data: Vec<u8>,
    lens: Vec<usize>,
    peers: Vec<libc::sockaddr_storage>,
    peer_lens: Vec<libc::socklen_t>,
    controls: Vec<[u8; CONTROL_LEN]>,
    control_lens: Vec<usize>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    /// How many entries are filled.
    pub count: usize,
}

// SAFETY: the raw pointers inside `iovecs` and `headers` only ever point into buffers
// owned by the same `Batch`, and are rebuilt before each system call; moving the batch
// to another thread moves those buffers with it.
unsafe impl Send for Batch {}

impl Batch {
    /// `size` datagrams of up to `slot` bytes each.
    pub fn new(size: usize, slot: usize) -> Batch {
        // SAFETY: all-zero bytes are a valid value for these plain C structs.
        let zero_storage: libc::sockaddr_storage = unsafe { zeroed() };
        Batch {
            size,
            slot,
            data: vec![0; size * slot],
            lens: vec![0; size],
            peers: vec![zero_storage; size],
            peer_lens: vec![0; size],
            controls: vec![[0; CONTROL_LEN]; size],
            control_lens: vec![0; size],
            iovecs: Vec::with_capacity(size),
            headers: Vec::with_capacity(size),
            count: 0,
        }
    }

    /// How many datagrams a call takes.
    pub fn capacity(&self) -> usize {
        self.size
    }

    /// The buffer of entry `i` (its full slot, for writing a reply into).
    pub fn buffer_mut(&mut self, i: usize) -> &mut [u8] {
        &mut self.data[i * self.slot..(i + 1) * self.slot]
    }

    /// The datagram of entry `i`.
    pub fn packet(&self, i: usize) -> &[u8] {
        &self.data[i * self.slot..i * self.slot + self.lens[i]]
    }

    /// Rebuilds the header array so every pointer refers to this batch's buffers.
    fn prepare(&mut self, count: usize, receiving: bool) {
        self.iovecs.clear();
        self.headers.clear();
        for i in 0..count {
            let len = if receiving { self.slot } else { self.lens[i] };
            self.iovecs.push(libc::iovec {
                iov_base: self.data[i * self.slot..].as_mut_ptr().cast(),
                iov_len: len,
            });
        }
        for i in 0..count {
            // SAFETY: an all-zero mmsghdr is valid; the fields set below point into
            // vectors that are not resized until the next `prepare`.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (&mut self.peers[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = if receiving {
                size_of::<libc::sockaddr_storage>() as libc::socklen_t
            } else {
                self.peer_lens[i]
            };
            h.msg_hdr.msg_iov = &mut self.iovecs[i];
            h.msg_hdr.msg_iovlen = 1;
            let control_len = if receiving {
                CONTROL_LEN
            } else {
                self.control_lens[i]
            };
            if control_len > 0 {
                h.msg_hdr.msg_control = self.controls[i].as_mut_ptr().cast();
                h.msg_hdr.msg_controllen = control_len as _;
            }
            self.headers.push(h);
        }
    }

    /// Takes what is queued, up to the batch size: with [`Wait::ForOne`] after blocking
    /// until at least one datagram arrives (or the socket's read timeout passes); with
    /// [`Wait::No`] at once (`WouldBlock` when nothing is queued). Datagrams longer than a
    /// slot are cut (and flagged by a full length).
    pub fn receive(&mut self, fd: BorrowedFd<'_>, wait: Wait) -> io::Result<usize> {
        self.prepare(self.size, true);
        let flags = match wait {
            Wait::ForOne => libc::MSG_WAITFORONE,
            Wait::No => libc::MSG_DONTWAIT,
        };
        // SAFETY: `headers` holds `size` initialised entries whose buffers are owned by
        // `self` and stay alive and unmoved for the duration of the call.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                self.headers.as_mut_ptr(),
                self.size as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.count = 0;
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(self.size);
        for i in 0..n {
            let h = &self.headers[i];
            self.lens[i] = (h.msg_len as usize).min(self.slot);
            self.peer_lens[i] = h.msg_hdr.msg_namelen;
            // msg_controllen is usize on glibc and u32 elsewhere.
            #[allow(clippy::unnecessary_cast)]
            let control_len = h.msg_hdr.msg_controllen as usize;
            self.control_lens[i] = control_len.min(CONTROL_LEN);
        }
        self.count = n;
        Ok(n)
    }

    /// The sender of entry `i`.
    pub fn peer(&self, i: usize) -> Option<SocketAddr> {
        let storage = &self.peers[i];
        match storage.ss_family as libc::c_int {
            libc::AF_INET if self.peer_lens[i] as usize >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says this storage holds a sockaddr_in, which fits.
                let a: &libc::sockaddr_in =
                    unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 if self.peer_lens[i] as usize >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let a: &libc::sockaddr_in6 =
                    unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// The local address entry `i` was sent to, from its control message.
    pub fn local(&self, i: usize) -> LocalAddr {
        let mut out = LocalAddr::Unknown;
        // SAFETY: a msghdr that only describes the received control buffer, which lives
        // in `self`; the CMSG_* macros walk within `msg_controllen`.
        unsafe {
            let mut msg: libc::msghdr = zeroed();
            msg.msg_control = self.controls[i].as_ptr() as *mut _;
            msg.msg_controllen = self.control_lens[i] as _;
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let c = &*cmsg;
                let holds =
                    |size: usize| c.cmsg_len as usize >= libc::CMSG_LEN(size as u32) as usize;
                if c.cmsg_level == libc::IPPROTO_IP
                    && c.cmsg_type == libc::IP_PKTINFO
                    && holds(size_of::<libc::in_pktinfo>())
                {
                    let info =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::in_pktinfo);
                    out = LocalAddr::V4 {
                        addr: Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)),
                        ifindex: info.ipi_ifindex,
                    };
                } else if c.cmsg_level == libc::IPPROTO_IPV6
                    && c.cmsg_type == libc::IPV6_PKTINFO
                    && holds(size_of::<libc::in6_pktinfo>())
                {
                    let info =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::in6_pktinfo);
                    out = LocalAddr::V6 {
                        addr: Ipv6Addr::from(info.ipi6_addr.s6_addr),
                        ifindex: info.ipi6_ifindex,
                    };
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        out
    }

    /// Makes entry `i` a reply of `len` bytes (already in its buffer) to the sender of
    /// entry `from` of `rx`, from the local address the query reached.
    pub fn set_reply(&mut self, i: usize, len: usize, rx: &Batch, from: usize) {
        self.lens[i] = len.min(self.slot);
        self.peers[i] = rx.peers[from];
        self.peer_lens[i] = rx.peer_lens[from];
        self.set_source(i, rx.local(from));
    }

    /// Makes entry `i` a datagram of `len` bytes to `peer`, sent from `local`.
    pub fn set_datagram(&mut self, i: usize, len: usize, peer: SocketAddr, local: LocalAddr) {
        self.lens[i] = len.min(self.slot);
        let addr = socket2::SockAddr::from(peer);
        let addr_len = (addr.len() as usize).min(size_of::<libc::sockaddr_storage>());
        // SAFETY: copies `addr_len` bytes of a socket address (socket2's storage has the
        // layout of sockaddr_storage) into this entry's storage, which is at least as large.
        unsafe {
            std::ptr::copy_nonoverlapping(
                addr.as_ptr() as *const u8,
                (&mut self.peers[i] as *mut libc::sockaddr_storage).cast::<u8>(),
                addr_len,
            );
        }
        self.peer_lens[i] = addr_len as libc::socklen_t;
        self.set_source(i, local);
    }

    /// The control message that picks the source address of entry `i`.
    fn set_source(&mut self, i: usize, local: LocalAddr) {
        self.control_lens[i] = 0;
        let control = &mut self.controls[i];
        // SAFETY: builds one control message inside `control` (128 bytes, room for either
        // pktinfo struct with its header); the CMSG_* macros stay within msg_controllen.
        unsafe {
            let (level, kind, data_len) = match local {
                LocalAddr::Unknown => return,
                LocalAddr::V4 { .. } => (
                    libc::IPPROTO_IP,
                    libc::IP_PKTINFO,
                    size_of::<libc::in_pktinfo>(),
                ),
                LocalAddr::V6 { .. } => (
                    libc::IPPROTO_IPV6,
                    libc::IPV6_PKTINFO,
                    size_of::<libc::in6_pktinfo>(),
                ),
            };
            let space = libc::CMSG_SPACE(data_len as u32) as usize;
            if space > CONTROL_LEN {
                return;
            }
            control.fill(0);
            let mut msg: libc::msghdr = zeroed();
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            if cmsg.is_null() {
                return;
            }
            (*cmsg).cmsg_level = level;
            (*cmsg).cmsg_type = kind;
            (*cmsg).cmsg_len = libc::CMSG_LEN(data_len as u32) as _;
            match local {
                LocalAddr::V4 { addr, .. } => {
                    let mut info: libc::in_pktinfo = zeroed();
                    info.ipi_spec_dst.s_addr = u32::from(addr).to_be();
                    std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut libc::in_pktinfo, info);
                }
                LocalAddr::V6 { addr, ifindex } => {
                    let mut info: libc::in6_pktinfo = zeroed();
                    info.ipi6_addr.s6_addr = addr.octets();
                    info.ipi6_ifindex = ifindex;
                    std::ptr::write_unaligned(
                        libc::CMSG_DATA(cmsg) as *mut libc::in6_pktinfo,
                        info,
                    );
                }
                LocalAddr::Unknown => return,
            }
            self.control_lens[i] = space;
        }
    }

    /// Sends entries `0..count`; returns how many the kernel took.
    pub fn send(&mut self, fd: BorrowedFd<'_>, count: usize) -> io::Result<usize> {
        let count = count.min(self.size);
        self.prepare(count, false);
        let mut sent = 0;
        while sent < count {
            // SAFETY: `headers[sent..count]` are initialised and point into `self`.
            let n = unsafe {
                libc::sendmmsg(
                    fd.as_raw_fd(),
                    self.headers[sent..].as_mut_ptr(),
                    (count - sent) as libc::c_uint,
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // One unsendable reply (e.g. an unreachable peer) must not stall the
                // rest: skip it and go on.
                if sent + 1 < count && e.raw_os_error() != Some(libc::EAGAIN) {
                    sent += 1;
                    continue;
                }
                return if sent > 0 { Ok(sent) } else { Err(e) };
            }
            sent += n as usize;
        }
        Ok(sent)
    }
}

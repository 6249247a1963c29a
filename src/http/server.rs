//! The HTTP/1.1 server: one event-loop thread reads and parses every request (httparse),
//! so a slow client holds a buffer, never a thread; a few handler threads route and write
//! the responses that can take time.
//!
//! Bounds: heads ≤ 8 KiB and 64 headers, bodies ≤ 64 KiB (read and discarded); the whole
//! request must arrive within 5 s of the connection (then 408); a response must be
//! written within 60 s; at most 1,024 connections are open and 64 wait for a handler
//! (more get 503 at once). `/health` and `/ready` are answered on the event loop itself,
//! so they stay prompt while every handler is busy.

use super::HttpContext;
use super::api::{Body, Request, Response, route};
use crate::stop::Stop;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
const MAX_BODY: usize = 64 * 1024;
const HANDLERS: usize = 4;
const QUEUE: usize = 64;
const MAX_CONNECTIONS: usize = 1024;
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
const RESPONSE_DEADLINE: Duration = Duration::from_secs(60);
/// How long one blocking write by a handler may wait for the client.
const WRITE_STALL: Duration = Duration::from_secs(5);

const LISTENER: Token = Token(0);
const WAKE: Token = Token(1);

/// Serves `listener` until `stop` is given.
pub(crate) fn serve(listener: TcpListener, ctx: Arc<HttpContext>, stop: &Stop) -> io::Result<()> {
    let (queue, jobs) = crossbeam_channel::bounded::<(TcpStream, Request)>(QUEUE);
    for i in 0..HANDLERS {
        let jobs = jobs.clone();
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || {
                // Ends when the event loop drops the queue.
                for (stream, request) in jobs {
                    let response = route(&request, &ctx);
                    let _ = respond_blocking(stream, &response, request.method == "HEAD");
                }
            })?;
    }
    let mut event_loop = EventLoop::new(listener, ctx, queue, stop)?;
    event_loop.run(stop);
    Ok(())
}

/// A connection whose request is still arriving, or whose short reply is being written.
struct Connection {
    stream: TcpStream,
    input: Vec<u8>,
    /// A reply the event loop writes itself, and how much of it is out.
    output: Option<(Vec<u8>, usize)>,
    deadline: Instant,
}

pub(crate) enum Parsed {
    Incomplete,
    Complete(Request),
    Invalid(u16),
}

struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    ctx: Arc<HttpContext>,
    queue: crossbeam_channel::Sender<(TcpStream, Request)>,
    connections: HashMap<Token, Connection>,
    next_token: usize,
}

impl EventLoop {
    fn new(
        listener: TcpListener,
        ctx: Arc<HttpContext>,
        queue: crossbeam_channel::Sender<(TcpStream, Request)>,
        stop: &Stop,
    ) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        stop.on_stop(move || {
            let _ = waker.wake();
        });
        listener.set_nonblocking(true)?;
        poll.registry().register(
            &mut SourceFd(&listener.as_raw_fd()),
            LISTENER,
            Interest::READABLE,
        )?;
        Ok(EventLoop {
            poll,
            listener,
            ctx,
            queue,
            connections: HashMap::new(),
            next_token: 2,
        })
    }

    fn run(&mut self, stop: &Stop) {
        let mut events = Events::with_capacity(256);
        while !stop.is_stopped() {
            if let Err(e) = self
                .poll
                .poll(&mut events, Some(Duration::from_millis(250)))
            {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::warn!("HTTP poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKE => {}
                    token => self.progress(token),
                }
            }
            self.expire(Instant::now());
        }
    }

    fn accept(&mut self) {
        loop {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors, say: wait for the next readiness.
                    tracing::debug!("HTTP accept failed: {e}");
                    return;
                }
            };
            if self.connections.len() >= MAX_CONNECTIONS {
                reply_now(stream, &Response::text(503, "503: Service Unavailable"));
                continue;
            }
            let token = Token(self.next_token);
            self.next_token = self.next_token.wrapping_add(1).max(2);
            if stream.set_nonblocking(true).is_err()
                || self
                    .poll
                    .registry()
                    .register(
                        &mut SourceFd(&stream.as_raw_fd()),
                        token,
                        Interest::READABLE,
                    )
                    .is_err()
            {
                continue;
            }
            self.connections.insert(
                token,
                Connection {
                    stream,
                    input: Vec::new(),
                    output: None,
                    deadline: Instant::now() + REQUEST_DEADLINE,
                },
            );
        }
    }

    /// Reads what arrived (or writes what is pending) on one connection, and acts on a
    /// complete request.
    fn progress(&mut self, token: Token) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        if conn.output.is_some() {
            if write_pending(conn) != Progress::Pending {
                self.close(token);
            }
            return;
        }
        let eof = match read_available(conn) {
            Ok(eof) => eof,
            Err(_) => return self.close(token),
        };
        match parse(&conn.input) {
            Parsed::Incomplete if eof => self.close(token),
            Parsed::Incomplete => {}
            Parsed::Invalid(status) => {
                let response = Response::text(status, status_text(status));
                self.reply_inline(token, &response, false);
            }
            Parsed::Complete(request) if super::api::is_probe(&request.path) => {
                let response = route(&request, &self.ctx);
                self.reply_inline(token, &response, request.method == "HEAD");
            }
            Parsed::Complete(request) => self.hand_off(token, request),
        }
    }

    /// Starts writing a short reply from the event loop.
    fn reply_inline(&mut self, token: Token, response: &Response, head_only: bool) {
        let Some(conn) = self.connections.get_mut(&token) else {
            return;
        };
        conn.output = Some((serialize(response, head_only), 0));
        conn.deadline = Instant::now() + WRITE_STALL;
        match write_pending(conn) {
            Progress::Pending => {
                let fd = conn.stream.as_raw_fd();
                let registered =
                    self.poll
                        .registry()
                        .reregister(&mut SourceFd(&fd), token, Interest::WRITABLE);
                if registered.is_err() {
                    self.close(token);
                }
            }
            Progress::Done | Progress::Failed => self.close(token),
        }
    }

    /// Gives a complete request to a handler thread (503 when all are busy and the
    /// queue is full).
    fn hand_off(&mut self, token: Token, request: Request) {
        let Some(conn) = self.connections.remove(&token) else {
            return;
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
        if let Err(crossbeam_channel::TrySendError::Full((stream, _))) =
            self.queue.try_send((conn.stream, request))
        {
            reply_now(stream, &Response::text(503, "503: Service Unavailable"));
        }
    }

    /// Past its deadline, a request still arriving gets 408; a reply still going out is
    /// abandoned.
    fn expire(&mut self, now: Instant) {
        let late: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for token in late {
            if let Some(conn) = self.connections.remove(&token) {
                let _ = self
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
                if conn.output.is_none() {
                    reply_now(conn.stream, &Response::text(408, status_text(408)));
                }
            }
        }
    }

    fn close(&mut self, token: Token) {
        if let Some(conn) = self.connections.remove(&token) {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        }
    }
}

/// Reads what the socket has; `Ok(true)` at end of input. Input past the largest request
/// is not read (the parse then fails on its size).
fn read_available(conn: &mut Connection) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    while conn.input.len() <= MAX_HEAD + MAX_BODY {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => conn.input.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

#[derive(PartialEq, Eq)]
enum Progress {
    Done,
    Pending,
    Failed,
}

fn write_pending(conn: &mut Connection) -> Progress {
    let Some((bytes, written)) = conn.output.as_mut() else {
        return Progress::Done;
    };
    while *written < bytes.len() {
        match conn.stream.write(&bytes[*written..]) {
            Ok(0) => return Progress::Failed,
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Pending,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Progress::Failed,
        }
    }
    Progress::Done
}

/// Parses a request head with httparse; the body (which no route reads) only has to be
/// complete.
pub(crate) fn parse(input: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let head_len = match head.parse(input) {
        Ok(httparse::Status::Partial) if input.len() > MAX_HEAD => return Parsed::Invalid(431),
        Ok(httparse::Status::Partial) => return Parsed::Incomplete,
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => return Parsed::Invalid(431),
        Ok(httparse::Status::Complete(n)) => n,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Invalid(431),
        Err(_) => return Parsed::Invalid(400),
    };
    let (Some(method), Some(target)) = (head.method, head.path) else {
        return Parsed::Invalid(400);
    };
    let mut request = Request {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or("").to_string(),
        accept: None,
        content_length: 0,
        content_type: None,
    };
    for header in head.headers.iter() {
        let Ok(value) = std::str::from_utf8(header.value) else {
            return Parsed::Invalid(400);
        };
        let value = value.trim();
        if header.name.eq_ignore_ascii_case("accept") {
            request.accept = Some(value.to_string());
        } else if header.name.eq_ignore_ascii_case("content-type") {
            request.content_type = Some(value.to_string());
        } else if header.name.eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) => request.content_length = n,
                Err(_) => return Parsed::Invalid(400),
            }
        }
    }
    if request.content_length > MAX_BODY {
        return Parsed::Invalid(413);
    }
    if input.len() < head_len + request.content_length {
        return Parsed::Incomplete;
    }
    Parsed::Complete(request)
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "400: Bad Request",
        408 => "408: Request Timeout",
        413 => "413: Request Entity Too Large",
        431 => "431: Request Header Fields Too Large",
        503 => "503: Service Unavailable",
        _ => "500: Internal Server Error",
    }
}

/// A short reply written without waiting: what does not fit the socket buffer is lost.
fn reply_now(mut stream: TcpStream, response: &Response) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write_all(&serialize(response, false));
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

fn head(response: &Response, len: usize) -> String {
    format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
    )
}

fn body_len(body: &Body) -> usize {
    match body {
        Body::Owned(b) => b.len(),
        Body::Shared(d) => d.len(),
    }
}

/// The whole reply in one buffer (for the short replies the event loop writes).
fn serialize(response: &Response, head_only: bool) -> Vec<u8> {
    let mut out = head(response, body_len(&response.body)).into_bytes();
    if !head_only {
        match &response.body {
            Body::Owned(b) => out.extend_from_slice(b),
            Body::Shared(d) => d.chunks().for_each(|c| out.extend_from_slice(c)),
        }
    }
    out
}

/// Writes a reply from a handler thread, giving up once [`RESPONSE_DEADLINE`] passes,
/// then closes gently: stop writing and discard what the client still sends (bounded),
/// so unread input does not turn the close into a reset that loses the reply.
fn respond_blocking(mut stream: TcpStream, response: &Response, head_only: bool) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(WRITE_STALL))?;
    let deadline = Instant::now() + RESPONSE_DEADLINE;
    let mut write = |bytes: &[u8]| -> io::Result<()> {
        for piece in bytes.chunks(64 * 1024) {
            if Instant::now() > deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            stream.write_all(piece)?;
        }
        Ok(())
    };
    write(head(response, body_len(&response.body)).as_bytes())?;
    if !head_only {
        match &response.body {
            Body::Owned(b) => write(b)?,
            Body::Shared(d) => {
                for chunk in d.chunks() {
                    write(chunk)?;
                }
            }
        }
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    let _ = io::copy(&mut (&mut stream).take(MAX_BODY as u64), &mut io::sink());
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(input: &[u8]) -> Option<u16> {
        match parse(input) {
            Parsed::Invalid(s) => Some(s),
            Parsed::Complete(_) => Some(200),
            Parsed::Incomplete => None,
        }
    }

    #[test]
    fn parses_heads_and_bounds() {
        assert_eq!(status(b"GET /health HTTP/1.1\r\n"), None);
        assert_eq!(status(b"GET /health HTTP/1.1\r\n\r\n"), Some(200));
        assert_eq!(
            status(b"GET /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nab"),
            None
        );
        assert_eq!(
            status(b"GET /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
            Some(200)
        );
        assert_eq!(
            status(b"GET /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n"),
            Some(400)
        );
        assert_eq!(status(b"GARBAGE\r\n\r\n"), Some(400));
        let long = format!("GET /x HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert_eq!(status(long.as_bytes()), Some(431));
        let Parsed::Complete(r) = parse(b"HEAD /v1/hosts/a?x=1 HTTP/1.0\r\nACCEPT: text/x\r\n\r\n")
        else {
            panic!("complete request not parsed");
        };
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.accept.as_deref()),
            ("HEAD", "/v1/hosts/a", Some("text/x"))
        );
    }
}

//! Accepts connections on one thread and serves them on a few handler threads; one
//! request per connection. Heads are limited to 8 KiB and 64 headers, request bodies to
//! 64 KiB; reads time out after 5 s, writes after 60 s; at most 64 connections wait for a
//! handler, and more get 503 at once.

use super::HttpContext;
use super::api::{Body, Request, Response, route};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
const MAX_BODY: usize = 64 * 1024;
const HANDLERS: usize = 4;
const QUEUE: usize = 64;

/// Serves forever on `listener`.
pub fn serve(listener: TcpListener, ctx: Arc<HttpContext>) {
    let (tx, rx) = crossbeam_channel::bounded::<TcpStream>(QUEUE);
    for i in 0..HANDLERS {
        let rx = rx.clone();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || {
                for stream in rx {
                    let _ = handle(stream, &ctx);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start HTTP handler: {e}");
        }
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if let Err(crossbeam_channel::TrySendError::Full(mut stream)) = tx.try_send(stream) {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = write_response(
                &mut stream,
                &Response::text(503, "503: Service Unavailable"),
                false,
            );
        }
    }
}

fn handle(mut stream: TcpStream, ctx: &HttpContext) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let (response, head_only) = match read_request(&mut stream) {
        Ok(request) => (route(&request, ctx), request.method == "HEAD"),
        Err(status) => (Response::text(status, status_text(status)), false),
    };
    write_response(&mut stream, &response, head_only)?;
    // Close gently: stop writing, then discard what the client still sends (bounded), so
    // unread input does not turn the close into a reset that loses the reply.
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    let _ = io::copy(&mut (&mut stream).take(MAX_BODY as u64), &mut io::sink());
    Ok(())
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "400: Bad Request",
        413 => "413: Request Entity Too Large",
        431 => "431: Request Header Fields Too Large",
        _ => "500: Internal Server Error",
    }
}

/// Reads one request head (and discards a small body); an error is the status to send.
fn read_request(stream: &mut TcpStream) -> Result<Request, u16> {
    let mut reader = BufReader::new(stream.take(MAX_HEAD as u64 + 1));
    let mut line = String::new();
    let mut read_line = |line: &mut String| -> Result<(), u16> {
        line.clear();
        match reader.read_line(line) {
            Ok(0) => Err(400),
            Ok(_) if !line.ends_with('\n') => Err(431),
            Ok(_) => Ok(()),
            Err(_) => Err(400),
        }
    };
    read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if !version.starts_with("HTTP/1.") {
        return Err(400);
    }
    let mut request = Request {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or("").to_string(),
        accept: None,
        content_length: 0,
        content_type: None,
    };
    let mut headers = 0;
    loop {
        read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        headers += 1;
        if headers > MAX_HEADERS {
            return Err(431);
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(400);
        };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "accept" => request.accept = Some(value),
            "content-type" => request.content_type = Some(value),
            "content-length" => request.content_length = value.parse().map_err(|_| 400u16)?,
            _ => {}
        }
    }
    if request.content_length > MAX_BODY {
        return Err(413);
    }
    // Discard the body (no route reads one), counting what the head's reader buffered.
    let remaining = request.content_length.saturating_sub(reader.buffer().len());
    let mut reader = reader.into_inner().into_inner().take(remaining as u64);
    io::copy(&mut reader, &mut io::sink()).map_err(|_| 400u16)?;
    Ok(request)
}

fn write_response(stream: &mut TcpStream, response: &Response, head_only: bool) -> io::Result<()> {
    let len = match &response.body {
        Body::Owned(b) => b.len(),
        Body::Shared(d) => d.len(),
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        match &response.body {
            Body::Owned(b) => stream.write_all(b)?,
            Body::Shared(d) => {
                for chunk in d.chunks() {
                    stream.write_all(chunk)?;
                }
            }
        }
    }
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

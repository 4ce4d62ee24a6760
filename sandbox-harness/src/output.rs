//! Captured stdout/stderr that count and cut instead of trapping.
//!
//! wasmtime-wasi's `MemoryOutputPipe` traps the guest when full, which would turn an output
//! flood into a `trap` outcome and hide how much the guest tried to write. This pipe keeps
//! the first `cap` bytes, counts every byte and tells the guest each write succeeded.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Debug, Default)]
struct Captured {
    kept: Vec<u8>,
    total: u64,
}

/// One captured output stream, shared between the guest's view and the harness.
#[derive(Debug, Clone)]
pub struct Capture {
    inner: Arc<Mutex<Captured>>,
    cap: usize,
}

impl Capture {
    pub fn new(cap: u64) -> Capture {
        Capture {
            inner: Arc::default(),
            cap: usize::try_from(cap).unwrap_or(usize::MAX),
        }
    }
    /// The kept bytes and the total the guest wrote.
    pub fn take(&self) -> (Vec<u8>, u64) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut c.kept), c.total)
    }
    /// Whether more was written than kept.
    pub fn cut(&self) -> bool {
        let c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.total > c.kept.len() as u64
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl Capture {
    fn push(&self, bytes: &[u8]) {
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_add(bytes.len() as u64);
        let room = self.cap.saturating_sub(c.kept.len());
        let n = room.min(bytes.len());
        c.kept.extend_from_slice(&bytes[..n]);
    }
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1 << 20)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

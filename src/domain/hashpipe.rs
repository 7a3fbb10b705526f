//! A writer that hashes (SHA-256) and writes on a second thread.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// Hashes and writes a byte stream on a second thread, so SHA-256 and the kernel's copy
/// into the file run on another core than whatever produces the bytes (the age cipher,
/// the zip writer). Writes are batched into 256 KiB blocks and handed over through a
/// bounded channel (at most 1 MiB in flight); a failure of the sink (a full disk) reaches
/// the next write or [`HashPipe::finish`].
pub struct HashPipe<W> {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    worker: Option<std::thread::JoinHandle<io::Result<(Sha256, u64, W)>>>,
    block: Vec<u8>,
}

const PIPE_BLOCK: usize = 256 << 10;

impl<W: Write + Send + 'static> HashPipe<W> {
    pub fn new(mut sink: W) -> HashPipe<W> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let worker = std::thread::spawn(move || {
            let (mut sha, mut bytes) = (Sha256::new(), 0u64);
            for block in rx {
                sha.update(&block);
                bytes += block.len() as u64;
                sink.write_all(&block)?;
            }
            sink.flush()?;
            Ok((sha, bytes, sink))
        });
        HashPipe {
            tx: Some(tx),
            worker: Some(worker),
            block: Vec::with_capacity(PIPE_BLOCK),
        }
    }

    /// The worker's own error, once it has stopped.
    fn worker_error(&mut self) -> io::Error {
        self.tx = None;
        match self.worker.take().map(|w| w.join()) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => io::Error::other("the hashing thread failed"),
            _ => io::Error::other("the output stopped"),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(PIPE_BLOCK));
        match &self.tx {
            Some(tx) if tx.send(block).is_ok() => Ok(()),
            _ => Err(self.worker_error()),
        }
    }

    /// Waits for the last block; returns the hash state, the byte count and the sink.
    pub fn finish(mut self) -> io::Result<(Sha256, u64, W)> {
        if !self.block.is_empty() {
            self.send()?;
        }
        self.tx = None;
        match self.worker.take().map(|w| w.join()) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("the hashing thread failed")),
        }
    }
}

impl<W: Write + Send + 'static> Write for HashPipe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.block.extend_from_slice(buf);
        if self.block.len() >= PIPE_BLOCK {
            self.send()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

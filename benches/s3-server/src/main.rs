//! s3s-fs, the file-system S3 server of the `s3s` project, with GetObject's body read in
//! 1 MiB pieces and TCP_NODELAY on every connection.
//!
//! Why: `benches/s3_fast_bench.py` measures how close vouch's S3 scan comes to the network.
//! s3s-fs 0.14.1 streams a body in 4 KiB reads, each a trip through tokio's blocking pool,
//! and leaves Nagle's algorithm on: on the benchmark machine it served about 200-225 MB/s
//! and bounded every figure. Everything else (listing, ETags, conditional and ranged
//! requests, uploads, SigV4 authentication) is s3s-fs's own code, called unchanged.
//!
//! Usage: `vouch-bench-s3-server --host 127.0.0.1 --port N --access-key K --secret-key S
//! [--stats-port M] ROOT` (the arguments of `s3s-fs`, and one more). With `--stats-port`,
//! a connection to that port on the same host is answered with one line,
//! `requests N gets N bytes N`: the S3 requests served so far, the GetObjects among them,
//! and the body bytes those answered, so that a benchmark counts what any client fetched.
//! A benchmark tool, not part of vouch.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// One read of a GetObject body.
const READ: usize = 1 << 20;

/// S3 requests answered (any operation, errors included), GetObjects, and the bytes of
/// the GetObject bodies.
static REQUESTS: AtomicU64 = AtomicU64::new(0);
static GETS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

struct Fast {
    inner: FileSystem,
    root: PathBuf,
}

/// `ROOT/bucket/key`, refusing anything but plain names (s3s-fs resolves the same path).
fn object_path(root: &Path, bucket: &str, key: &str) -> S3Result<PathBuf> {
    let rel = Path::new(bucket).join(key);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(s3_error!(InvalidArgument, "bad object path"));
    }
    Ok(root.join(rel))
}

/// The `S3` impl: the listed operations go to s3s-fs as they are (one macro, so that
/// `async_trait` sees every method), `get_object` is below.
macro_rules! delegate {
    ($($name:ident: $input:ty => $output:ty;)*) => {
        #[async_trait::async_trait]
        impl S3 for Fast {
            $(
                async fn $name(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    REQUESTS.fetch_add(1, Ordering::Relaxed);
                    self.inner.$name(req).await
                }
            )*

            async fn get_object(
                &self,
                req: S3Request<GetObjectInput>,
            ) -> S3Result<S3Response<GetObjectOutput>> {
                REQUESTS.fetch_add(1, Ordering::Relaxed);
                GETS.fetch_add(1, Ordering::Relaxed);
                self.fast_get_object(req).await
            }
        }
    };
}

delegate! {
    create_bucket: CreateBucketInput => CreateBucketOutput;
    copy_object: CopyObjectInput => CopyObjectOutput;
    delete_bucket: DeleteBucketInput => DeleteBucketOutput;
    delete_object: DeleteObjectInput => DeleteObjectOutput;
    delete_objects: DeleteObjectsInput => DeleteObjectsOutput;
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
    head_bucket: HeadBucketInput => HeadBucketOutput;
    head_object: HeadObjectInput => HeadObjectOutput;
    list_buckets: ListBucketsInput => ListBucketsOutput;
    list_objects: ListObjectsInput => ListObjectsOutput;
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
    put_object: PutObjectInput => PutObjectOutput;
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
    upload_part: UploadPartInput => UploadPartOutput;
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
    list_parts: ListPartsInput => ListPartsOutput;
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
}

impl Fast {
    /// s3s-fs's answer (status, headers, ETag, conditions, range checks), with its body
    /// replaced by the same bytes read in [`READ`] pieces.
    async fn fast_get_object(
        &self,
        mut req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let path = object_path(&self.root, &req.input.bucket, &req.input.key)?;
        // A suffix longer than the object is the whole object, as S3 answers it (s3s-fs
        // 0.14.1 seeks before the start of the file and fails).
        if let Some(Range::Suffix { length }) = req.input.range
            && let Ok(m) = tokio::fs::metadata(&path).await
            && length > m.len()
        {
            req.input.range = Some(Range::Int {
                first: 0,
                last: None,
            });
        }
        let range = req.input.range;
        let mut resp = self.inner.get_object(req).await?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| s3_error!(e, NoSuchKey))?;
        let size = file
            .metadata()
            .await
            .map_err(|e| s3_error!(e, InternalError))?
            .len();
        let span = match range {
            None => 0..size,
            Some(r) => r.check(size)?,
        };
        let want = u64::try_from(resp.output.content_length.unwrap_or(0)).unwrap_or(0);
        if span.end - span.start != want {
            return Err(s3_error!(InternalError, "object changed while it was read"));
        }
        file.seek(std::io::SeekFrom::Start(span.start))
            .await
            .map_err(|e| s3_error!(e, InternalError))?;
        file.set_max_buf_size(READ);
        BYTES.fetch_add(want, Ordering::Relaxed);
        let body = ReaderStream::with_capacity(file.take(want), READ);
        resp.output.body = Some(StreamingBlob::wrap(body));
        Ok(resp)
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: vouch-bench-s3-server --host H --port P --access-key K --secret-key S [--stats-port M] ROOT"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut host, mut port, mut key, mut secret, mut root, mut stats) =
        (String::from("127.0.0.1"), 8014u16, None, None, None, None);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--host" => host = value(),
            "--port" => port = value().parse().unwrap_or_else(|_| usage()),
            "--access-key" => key = Some(value()),
            "--secret-key" => secret = Some(value()),
            "--stats-port" => stats = Some(value().parse::<u16>().unwrap_or_else(|_| usage())),
            s if !s.starts_with('-') && root.is_none() => root = Some(PathBuf::from(s)),
            _ => usage(),
        }
    }
    let root = root.unwrap_or_else(|| usage());
    let inner = FileSystem::new(&root).unwrap_or_else(|e| {
        eprintln!("{}: {e:?}", root.display());
        std::process::exit(1)
    });
    let root = std::fs::canonicalize(&root).unwrap_or_else(|e| {
        eprintln!("{}: {e}", root.display());
        std::process::exit(1)
    });
    let mut b = S3ServiceBuilder::new(Fast { inner, root });
    if let (Some(k), Some(s)) = (key, secret) {
        b.set_auth(s3s::auth::SimpleAuth::from_single(k, s));
    }
    let service = b.build();
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("{host}:{port}: {e}");
            std::process::exit(1)
        });
    if let Some(p) = stats {
        let counts = tokio::net::TcpListener::bind((host.as_str(), p))
            .await
            .unwrap_or_else(|e| {
                eprintln!("{host}:{p}: {e}");
                std::process::exit(1)
            });
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut socket, _)) = counts.accept().await {
                let line = format!(
                    "requests {} gets {} bytes {}\n",
                    REQUESTS.load(Ordering::Relaxed),
                    GETS.load(Ordering::Relaxed),
                    BYTES.load(Ordering::Relaxed)
                );
                let _ = socket.write_all(line.as_bytes()).await;
            }
        });
    }
    let http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        let conn = http
            .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

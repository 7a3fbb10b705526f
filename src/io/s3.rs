//! The [`Store`] seam over S3 (and S3-compatible servers): listing with pagination and
//! ranged GETs, through `aws-sdk-s3` with the standard AWS configuration chain
//! (environment, profiles, SSO, instance roles; `AWS_ENDPOINT_URL` for other servers).
//!
//! The store is synchronous like the rest of the library; it owns a small tokio runtime
//! and blocks on it, so tokio stays at this edge. Errors name the object and the S3 error
//! code, never credentials.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::io::store::{
    Listing, ObjectMeta, Origin, RangeRead, RootListing, Store, StoreError, is_hidden,
};

/// `s3://bucket/prefix` split into its parts; the prefix has no leading `/` and ends in
/// `/` unless empty.
pub fn parse_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    let prefix = prefix.trim_matches('/');
    Some((
        bucket.to_string(),
        if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        },
    ))
}

/// Connection settings beyond the AWS configuration chain.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// An S3-compatible endpoint (overrides `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// The named profile (`--profile`; overrides `AWS_PROFILE` and the environment's keys).
    pub profile: Option<String>,
    /// The region (`--region`; overrides `AWS_REGION` and the profile's).
    pub region: Option<String>,
    /// Address buckets as `endpoint/bucket` (default: on when an endpoint is configured).
    pub path_style: Option<bool>,
}

/// A bucket prefix as a store.
pub struct S3Store {
    client: Client,
    rt: Arc<tokio::runtime::Runtime>,
    bucket: String,
    prefix: String,
    uri: String,
    include_hidden: bool,
}

fn s3_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    op: &str,
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> String {
    aws_error("S3", op, e)
}

/// An AWS call's failure in one line: the service's error code, or for transport errors
/// the first line of the context chain. Never credentials.
pub(crate) fn aws_error<
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
>(
    service: &str,
    op: &str,
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> String {
    let code = e
        .as_service_error()
        .and_then(|s| s.code().map(str::to_string));
    match code {
        Some(c) => format!("{service} {op} failed: {c}"),
        None => {
            // Transport errors: the context chain says what happened (connection refused,
            // timeout); it holds no credentials.
            let text = DisplayErrorContext(&e).to_string();
            let first: String = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(300)
                .collect();
            format!("{service} {op} failed: {first}")
        }
    }
}

/// The standard AWS configuration chain (environment, profiles, SSO, web identity,
/// container and instance roles; `us-east-1` when it names no region) with vouch's
/// retries (6 attempts) and timeouts, `--profile` and `--region` applied. `--profile`
/// means that profile's credentials, as in the AWS CLI (the environment's keys do not
/// override it).
pub(crate) fn aws_config_chain(
    opts: &S3Options,
) -> Result<(tokio::runtime::Runtime, aws_config::SdkConfig), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(6))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p).credentials_provider(
            aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(p)
                .build(),
        );
    }
    loader = match &opts.region {
        Some(r) => loader.region(aws_config::Region::new(r.clone())),
        None => {
            let mut chain = aws_config::meta::region::RegionProviderChain::first_try(
                aws_config::environment::EnvironmentVariableRegionProvider::new(),
            );
            chain = match &opts.profile {
                Some(p) => chain.or_else(
                    aws_config::profile::ProfileFileRegionProvider::builder()
                        .profile_name(p)
                        .build(),
                ),
                None => {
                    chain.or_else(aws_config::meta::region::RegionProviderChain::default_provider())
                }
            };
            loader.region(chain.or_else(aws_config::Region::new("us-east-1")))
        }
    };
    let shared = rt.block_on(loader.load());
    check_credentials(&rt, &shared, opts)?;
    Ok((rt, shared))
}

/// Resolves the credentials once before the first request, so a missing profile or
/// credential is one line saying what was tried and what to set (as the AWS CLI says
/// it), not a request error per object.
fn check_credentials(
    rt: &tokio::runtime::Runtime,
    shared: &aws_config::SdkConfig,
    opts: &S3Options,
) -> Result<(), String> {
    use aws_sdk_s3::config::ProvideCredentials;
    let (named, from) = match (&opts.profile, std::env::var("AWS_PROFILE")) {
        (Some(p), _) => (Some(p.clone()), "--profile"),
        (None, Ok(p)) if !p.is_empty() => (Some(p), "AWS_PROFILE"),
        _ => (None, ""),
    };
    if let Some(p) = &named
        && !profile_defined(p)
    {
        return Err(format!(
            "the AWS profile `{p}` (from {from}) is not defined in {} or {}: add it \
             (`aws configure --profile {p}`) or name another with --profile or AWS_PROFILE",
            profile_file("AWS_CONFIG_FILE", "config"),
            profile_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        ));
    }
    let Some(provider) = shared.credentials_provider() else {
        return Err("no AWS credentials provider is configured".into());
    };
    match rt.block_on(provider.provide_credentials()) {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = DisplayErrorContext(&e).to_string();
            let why: String = why.lines().next().unwrap_or("").chars().take(300).collect();
            Err(match named {
                Some(p) => format!(
                    "no AWS credentials from profile `{p}` (from {from}): {why}; set its \
                     aws_access_key_id and aws_secret_access_key, role_arn or sso_session"
                ),
                None => format!(
                    "no AWS credentials found (tried: AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY, the default profile in {} and {}, web identity \
                     (AWS_WEB_IDENTITY_TOKEN_FILE), the container and instance roles); set \
                     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile with \
                     --profile or AWS_PROFILE",
                    profile_file("AWS_CONFIG_FILE", "config"),
                    profile_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
                ),
            })
        }
    }
}

/// Where the SDK reads a profile file: the variable's path, else `~/.aws/NAME`.
fn profile_file(var: &str, name: &str) -> String {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => p,
        _ => format!("~/.aws/{name}"),
    }
}

/// Whether a profile has a section in either profile file: `[profile NAME]` (or
/// `[NAME]`) in the config file, `[NAME]` in the credentials file.
fn profile_defined(name: &str) -> bool {
    let home = std::env::var("HOME").unwrap_or_default();
    let path = |var: &str, file: &str| -> std::path::PathBuf {
        match std::env::var(var) {
            Ok(p) if !p.is_empty() => p.strip_prefix("~/").map_or_else(
                || std::path::PathBuf::from(&p),
                |rest| std::path::Path::new(&home).join(rest),
            ),
            _ => std::path::Path::new(&home).join(".aws").join(file),
        }
    };
    let sections = |file: std::path::PathBuf| -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let inner = l.strip_prefix('[')?.strip_suffix(']')?.trim();
                Some(
                    inner
                        .strip_prefix("profile")
                        .map_or(inner, str::trim)
                        .to_string(),
                )
            })
            .collect()
    };
    sections(path("AWS_CONFIG_FILE", "config"))
        .iter()
        .chain(&sections(path(
            "AWS_SHARED_CREDENTIALS_FILE",
            "credentials",
        )))
        .any(|s| s == name)
}

impl S3Store {
    /// Connects to `s3://bucket/prefix`. Nothing is requested yet.
    pub fn connect(uri: &str, opts: &S3Options) -> Result<S3Store, StoreError> {
        let (bucket, prefix) = parse_uri(uri)
            .ok_or_else(|| StoreError::new(uri, "not an s3://bucket/prefix location"))?;
        let (rt, shared) = aws_config_chain(opts).map_err(|e| StoreError::new(uri, e))?;
        let mut b = aws_sdk_s3::config::Builder::from(&shared);
        let endpoint = opts
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if let Some(url) = &opts.endpoint_url {
            b = b.endpoint_url(url);
        }
        if opts.path_style.unwrap_or(endpoint.is_some()) {
            b = b.force_path_style(true);
        }
        Ok(S3Store {
            client: Client::from_conf(b.build()),
            rt: Arc::new(rt),
            bucket,
            prefix,
            uri: uri.trim_end_matches('/').to_string(),
            include_hidden: false,
        })
    }

    /// Another prefix (any bucket) through the same client: a catalog's tables and
    /// partitions share one connection.
    pub fn at(&self, uri: &str) -> Result<S3Store, StoreError> {
        let (bucket, prefix) = parse_uri(uri)
            .ok_or_else(|| StoreError::new(uri, "not an s3://bucket/prefix location"))?;
        Ok(S3Store {
            client: self.client.clone(),
            rt: self.rt.clone(),
            bucket,
            prefix,
            uri: uri.trim_end_matches('/').to_string(),
            include_hidden: self.include_hidden,
        })
    }

    /// The same, taking every object (evidence sources).
    pub fn connect_all(uri: &str, opts: &S3Options) -> Result<S3Store, StoreError> {
        Ok(S3Store {
            include_hidden: true,
            ..S3Store::connect(uri, opts)?
        })
    }

    /// A listed key as a path below the prefix, or None for what the listing skips:
    /// "directory" marker objects, and names hidden below the listed directory `rel`
    /// unless every object counts (the directory's own name is never checked: a table
    /// may be called `_backup`).
    fn listed_path<'k>(&self, key: Option<&'k str>, rel: &str) -> Option<&'k str> {
        let path = key?.strip_prefix(&self.prefix)?;
        let below = if rel.is_empty() {
            path
        } else {
            path.strip_prefix(rel)?.strip_prefix('/')?
        };
        let hidden = below.split('/').any(is_hidden) && !self.include_hidden;
        (!path.ends_with('/') && !hidden).then_some(path)
    }

    /// The full key prefix of a directory `rel` below the store's prefix.
    fn dir_prefix(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}{rel}/", self.prefix)
        }
    }

    /// Every page of ListObjectVersions under `prefix`, in order. A page that says it is
    /// truncated but gives no markers ends the listing rather than repeating forever.
    fn for_each_version_page(
        &self,
        prefix: &str,
        mut each: impl FnMut(&aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput),
    ) -> Result<(), String> {
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = self
                .rt
                .block_on(
                    self.client
                        .list_object_versions()
                        .bucket(&self.bucket)
                        .prefix(prefix)
                        .set_key_marker(key_marker.clone())
                        .set_version_id_marker(version_marker.clone())
                        .send(),
                )
                .map_err(|e| s3_error("ListObjectVersions", e))?;
            each(&page);
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
            if page.is_truncated() != Some(true)
                || (key_marker.is_none() && version_marker.is_none())
            {
                return Ok(());
            }
        }
    }

    fn key(&self, rel: &str) -> String {
        format!("{}{}", self.prefix, rel.trim_start_matches('/'))
    }

    /// A listing of `prefix` by `split` (objects or versions, directories side by side)
    /// as the store gives it: the keys as paths below the prefix, in order (path, then
    /// version id), or the error naming the directory whose listing failed, below the
    /// store's prefix.
    fn listing_of<F>(
        &self,
        prefix: &str,
        split: impl FnOnce(Client, String, String, usize) -> F,
    ) -> Listing
    where
        F: std::future::Future<Output = Result<Vec<ListedKey>, (String, String)>>,
    {
        let rel = prefix.trim_matches('/');
        let listed = self.rt.block_on(split(
            self.client.clone(),
            self.bucket.clone(),
            self.dir_prefix(rel),
            LIST_CONCURRENCY,
        ));
        let mut out = Listing::default();
        let keys = match listed {
            Ok(k) => k,
            Err((at, e)) => {
                let place = at
                    .strip_prefix(&self.prefix)
                    .unwrap_or(&at)
                    .trim_end_matches('/');
                let place = if place.is_empty() { rel } else { place };
                out.errors.push(StoreError::new(place, e));
                return out;
            }
        };
        for k in keys {
            let Some(path) = self.listed_path(Some(&k.key), rel) else {
                continue;
            };
            out.objects.push(ObjectMeta {
                path: path.to_string(),
                size: k.size,
                modified: k.modified,
                origin: Origin::object(k.etag.as_deref(), k.version_id.as_deref(), k.noncurrent),
            });
        }
        out.objects
            .sort_by(|a, b| (&a.path, &a.version_id()).cmp(&(&b.path, &b.version_id())));
        out
    }
}

/// Directories of a table listed at once (ListObjectsV2 requests in flight).
const LIST_CONCURRENCY: usize = 16;

/// What a listing keeps of an object (or, in a version listing, of an object version).
struct ListedKey {
    key: String,
    size: u64,
    modified: Option<i64>,
    etag: Option<String>,
    version_id: Option<String>,
    noncurrent: bool,
}

impl ListedKey {
    /// A current object as a listing gives it (None without a key).
    fn of(
        key: Option<&str>,
        size: Option<i64>,
        modified: Option<&aws_sdk_s3::primitives::DateTime>,
        etag: Option<&str>,
    ) -> Option<ListedKey> {
        Some(ListedKey {
            key: key?.to_string(),
            size: size.unwrap_or(0).max(0) as u64,
            modified: modified.map(|t| t.secs()),
            etag: etag.map(str::to_string),
            version_id: None,
            noncurrent: false,
        })
    }
}

/// The directories a delimiter listing rolled keys up into.
fn dirs_of(prefixes: &[aws_sdk_s3::types::CommonPrefix]) -> Vec<String> {
    prefixes
        .iter()
        .filter_map(|p| p.prefix().map(str::to_string))
        .collect()
}

/// One ListObjectsV2 request: up to a page of objects under `prefix` (after `start_after`
/// or from `token`), with `delimiter` the directories one level below instead of what they
/// hold. Returns the page's objects, directories and continuation token.
async fn list_page(
    client: &Client,
    bucket: &str,
    prefix: &str,
    delimiter: bool,
    start_after: Option<String>,
    token: Option<String>,
) -> Result<(Vec<ListedKey>, Vec<String>, Option<String>), String> {
    let sent = token.clone();
    let page = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .set_delimiter(delimiter.then(|| "/".to_string()))
        .set_start_after(start_after)
        .set_continuation_token(token)
        .send()
        .await
        .map_err(|e| s3_error("ListObjectsV2", e))?;
    // Only what a listing keeps of each object, page by page.
    let objects = page
        .contents()
        .iter()
        .filter_map(|o| ListedKey::of(o.key(), o.size(), o.last_modified(), o.e_tag()))
        .collect();
    let dirs = dirs_of(page.common_prefixes());
    let next = next_token(
        sent.as_deref(),
        page.is_truncated(),
        page.next_continuation_token(),
    )?;
    Ok((objects, dirs, next))
}

/// The token of the next page: none when the page is the last (or is truncated without
/// a token, which ends the listing rather than repeating it); the token just sent again
/// is an error, not a loop.
fn next_token(
    sent: Option<&str>,
    truncated: Option<bool>,
    next: Option<&str>,
) -> Result<Option<String>, String> {
    match (truncated, next) {
        (Some(true), Some(t)) if Some(t) == sent => Err(
            "S3 ListObjectsV2 answered with the continuation token it was given: the listing \
             would not end"
                .to_string(),
        ),
        (Some(true), Some(t)) => Ok(Some(t.to_string())),
        _ => Ok(None),
    }
}

/// Every object under `prefix`. A listing of one page is one request. A longer one is
/// split by the table's directories (its partitions): their names (by delimiter, with the
/// objects at the top), then `concurrency` ranges of directories listed side by side,
/// each from its first directory (StartAfter) to the next range's, in full pages. The
/// same keys as one listing of the prefix: a key at the top comes from the delimiter
/// listing, a key under a directory from the one range that holds that directory (a key
/// is kept by a range only when it lies under one of the range's directories). A table
/// of a million objects is listed in about a sixteenth of the round trips, with about as
/// many requests. A failure names the prefix whose listing failed.
async fn list_split(
    client: Client,
    bucket: String,
    prefix: String,
    concurrency: usize,
) -> Result<Vec<ListedKey>, (String, String)> {
    let fail = |e: String| (prefix.clone(), e);
    let (first, _, token) = list_page(&client, &bucket, &prefix, false, None, None)
        .await
        .map_err(fail)?;
    let Some(token) = token else {
        return Ok(first);
    };
    // More than a page: the directories one level below, and the objects at the top.
    let (mut top, mut dirs, mut next) = (Vec::new(), Vec::new(), None);
    loop {
        let (objects, more_dirs, token) =
            list_page(&client, &bucket, &prefix, true, None, next.take())
                .await
                .map_err(fail)?;
        top.extend(objects);
        dirs.extend(more_dirs);
        match token {
            Some(t) => next = Some(t),
            None => break,
        }
    }
    dirs.sort();
    dirs.dedup();
    if dirs.len() < 2 {
        // Nothing to split by: the rest of the one listing, page by page.
        let mut out = first;
        let mut next = Some(token);
        while let Some(t) = next.take() {
            let (objects, _, token) = list_page(&client, &bucket, &prefix, false, None, Some(t))
                .await
                .map_err(fail)?;
            out.extend(objects);
            next = token;
        }
        return Ok(out);
    }
    let ranges = concurrency.clamp(1, dirs.len());
    let starts: Vec<usize> = (0..ranges).map(|r| r * dirs.len() / ranges).collect();
    let mut running = tokio::task::JoinSet::new();
    for (r, &from) in starts.iter().enumerate() {
        // The first range starts at the table's first key: a directory made since the
        // delimiter listing sorts in some range, never before the first.
        let first_dir = (r > 0).then(|| dirs[from].clone());
        let until = starts.get(r + 1).map(|&i| dirs[i].clone());
        let (client, bucket, prefix) = (client.clone(), bucket.clone(), prefix.clone());
        running.spawn(async move {
            let listed = list_range(
                &client,
                &bucket,
                &prefix,
                first_dir.as_deref(),
                until.as_deref(),
            )
            .await;
            (first_dir.unwrap_or(prefix), listed)
        });
    }
    let mut out = top;
    while let Some(done) = running.join_next().await {
        match done {
            Ok((_, Ok(found))) => out.extend(found),
            Ok((dir, Err(e))) => return Err((dir, e)),
            Err(e) => return Err(fail(format!("S3 ListObjectsV2 failed: {e}"))),
        }
    }
    Ok(out)
}

/// The objects under the directories from `first_dir` (a directory key ending in `/`;
/// none: from the first) up to, not including, `until` (the next range's first directory;
/// none: to the end of `prefix`).
async fn list_range(
    client: &Client,
    bucket: &str,
    prefix: &str,
    first_dir: Option<&str>,
    until: Option<&str>,
) -> Result<Vec<ListedKey>, String> {
    // Every key under `first_dir` sorts after its name without the slash.
    let mut start_after = first_dir.map(|d| d.trim_end_matches('/').to_string());
    let mut token = None;
    let mut out = Vec::new();
    loop {
        let (objects, _, next) = list_page(
            client,
            bucket,
            prefix,
            false,
            start_after.take(),
            token.take(),
        )
        .await?;
        let mut past = false;
        for o in objects {
            if until.is_some_and(|u| o.key.as_str() >= u) {
                past = true;
                break;
            }
            // Under a directory of this range (not a key at the top, which sorts among
            // the directories: `dt=1.parquet` before `dt=1/`).
            let below = o.key.get(prefix.len()..).is_some_and(|r| r.contains('/'));
            if first_dir.is_none_or(|d| o.key.as_str() >= d) && below {
                out.push(o);
            }
        }
        match next {
            Some(t) if !past => token = Some(t),
            _ => return Ok(out),
        }
    }
}

/// Where a version listing goes on: the key and version id markers of the next page.
type VersionMarkers = (Option<String>, Option<String>);

/// One ListObjectVersions request: a page of versions under `prefix` from `markers`,
/// with `delimiter` the directories one level below instead of what they hold. Returns the
/// page's versions, directories and the next page's markers (none on the last page; the
/// markers just sent again are an error, not a loop).
async fn versions_page(
    client: &Client,
    bucket: &str,
    prefix: &str,
    delimiter: bool,
    markers: VersionMarkers,
) -> Result<(Vec<ListedKey>, Vec<String>, Option<VersionMarkers>), String> {
    let page = client
        .list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .set_delimiter(delimiter.then(|| "/".to_string()))
        .set_key_marker(markers.0.clone())
        .set_version_id_marker(markers.1.clone())
        .send()
        .await
        .map_err(|e| s3_error("ListObjectVersions", e))?;
    let versions = page
        .versions()
        .iter()
        .filter_map(|v| {
            Some(ListedKey {
                version_id: v.version_id().filter(|v| *v != "null").map(str::to_string),
                noncurrent: v.is_latest() == Some(false),
                ..ListedKey::of(v.key(), v.size(), v.last_modified(), v.e_tag())?
            })
        })
        .collect();
    let dirs = dirs_of(page.common_prefixes());
    let next = (
        page.next_key_marker().map(str::to_string),
        page.next_version_id_marker().map(str::to_string),
    );
    let next = match page.is_truncated() {
        Some(true) if next.0.is_none() && next.1.is_none() => None,
        Some(true) if next == markers => {
            return Err(
                "S3 ListObjectVersions answered with the markers it was given: the \
                        listing would not end"
                    .to_string(),
            );
        }
        Some(true) => Some(next),
        _ => None,
    };
    Ok((versions, dirs, next))
}

/// The rest of a version listing of `prefix` (with `delimiter`), from `markers`.
async fn versions_from(
    client: &Client,
    bucket: &str,
    prefix: &str,
    delimiter: bool,
    mut markers: VersionMarkers,
) -> Result<(Vec<ListedKey>, Vec<String>), String> {
    let (mut versions, mut dirs) = (Vec::new(), Vec::new());
    loop {
        let (v, d, next) = versions_page(client, bucket, prefix, delimiter, markers).await?;
        versions.extend(v);
        dirs.extend(d);
        match next {
            Some(m) => markers = m,
            None => return Ok((versions, dirs)),
        }
    }
}

/// Every object version under `prefix`. A listing of one page is one request. A longer
/// one is split by the table's directories (its partitions), found by a delimiter listing
/// (which also gives the versions at the top): each directory is its own prefix, listed in
/// full, `concurrency` groups of directories side by side. Prefixes, not marker ranges: a
/// listing from a marker that is not a key is where servers differ (moto drops the first
/// key after it), a prefix means the same everywhere. A directory made since the delimiter
/// listing is not split out: it is found by nothing, as a key written after any listing
/// is. A failure names the prefix whose listing failed.
async fn list_versions_split(
    client: Client,
    bucket: String,
    prefix: String,
    concurrency: usize,
) -> Result<Vec<ListedKey>, (String, String)> {
    let fail = |e: String| (prefix.clone(), e);
    let (first, _, next) = versions_page(&client, &bucket, &prefix, false, (None, None))
        .await
        .map_err(fail)?;
    let Some(next) = next else {
        return Ok(first);
    };
    let (top, mut dirs) = versions_from(&client, &bucket, &prefix, true, (None, None))
        .await
        .map_err(fail)?;
    dirs.sort();
    dirs.dedup();
    if dirs.len() < 2 {
        // Nothing to split by: the rest of the one listing, page by page.
        let (rest, _) = versions_from(&client, &bucket, &prefix, false, next)
            .await
            .map_err(fail)?;
        let mut out = first;
        out.extend(rest);
        return Ok(out);
    }
    let groups = concurrency.clamp(1, dirs.len());
    let mut running = tokio::task::JoinSet::new();
    for g in 0..groups {
        let mine: Vec<String> =
            dirs[g * dirs.len() / groups..(g + 1) * dirs.len() / groups].to_vec();
        let (client, bucket) = (client.clone(), bucket.clone());
        running.spawn(async move {
            let mut out = Vec::new();
            for dir in mine {
                match versions_from(&client, &bucket, &dir, false, (None, None)).await {
                    Ok((v, _)) => out.extend(v),
                    Err(e) => return Err((dir, e)),
                }
            }
            Ok(out)
        });
    }
    let mut out = top;
    while let Some(done) = running.join_next().await {
        match done {
            Ok(Ok(found)) => out.extend(found),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(fail(format!("S3 ListObjectVersions failed: {e}"))),
        }
    }
    Ok(out)
}

impl Store for S3Store {
    fn root(&self) -> String {
        self.uri.clone()
    }

    fn root_entries(&self) -> Result<RootListing, StoreError> {
        let mut out = RootListing::default();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = self.rt.block_on(pages.next()) {
            let page =
                page.map_err(|e| StoreError::new(&self.uri, s3_error("ListObjectsV2", e)))?;
            for p in page.common_prefixes() {
                let name = p
                    .prefix()
                    .unwrap_or("")
                    .strip_prefix(&self.prefix)
                    .unwrap_or("")
                    .trim_end_matches('/');
                if !name.is_empty() && !name.starts_with('.') {
                    out.dirs.push(name.to_string());
                }
            }
            for o in page.contents() {
                let name = o
                    .key()
                    .unwrap_or("")
                    .strip_prefix(&self.prefix)
                    .unwrap_or("");
                if !name.is_empty() && !name.starts_with('.') {
                    out.files.push(name.to_string());
                }
            }
        }
        out.dirs.sort();
        out.files.sort();
        Ok(out)
    }

    fn parallelism(&self) -> usize {
        16
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn list(&self, prefix: &str) -> Listing {
        self.listing_of(prefix, list_split)
    }

    fn list_versions(&self, prefix: &str) -> Listing {
        self.listing_of(prefix, list_versions_split)
    }

    fn open(&self, object: &ObjectMeta) -> Result<Box<dyn RangeRead>, StoreError> {
        Ok(Box::new(S3Object {
            client: self.client.clone(),
            rt: self.rt.clone(),
            bucket: self.bucket.clone(),
            key: self.key(&object.path),
            path: object.path.clone(),
            etag: object.etag().map(str::to_string),
            version_id: object.version_id().map(str::to_string),
        }))
    }
}

impl S3Store {
    /// Starts reading the whole object at `uri` (its key is the prefix), or None when
    /// there is no such key; `then` consumes the answer.
    fn with_object<T>(
        uri: &str,
        opts: &S3Options,
        then: impl AsyncFnOnce(aws_sdk_s3::operation::get_object::GetObjectOutput) -> Result<T, String>,
    ) -> Result<Option<T>, StoreError> {
        let store = S3Store::connect(uri, opts)?;
        let key = store.prefix.trim_end_matches('/').to_string();
        let got = store.rt.block_on(async {
            match store
                .client
                .get_object()
                .bucket(&store.bucket)
                .key(&key)
                .send()
                .await
            {
                Ok(r) => then(r).await.map(Some),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                Err(e) => Err(s3_error("GetObject", e)),
            }
        });
        got.map_err(|m| StoreError::new(uri, m))
    }

    /// The SHA-256 (hex) of a whole object, streamed (memory stays bounded whatever its
    /// size), or None when there is no such key.
    pub fn sha256_of(uri: &str, opts: &S3Options) -> Result<Option<String>, StoreError> {
        use sha2::Digest;
        S3Store::with_object(uri, opts, async |mut resp| {
            let mut h = sha2::Sha256::new();
            while let Some(chunk) = resp.body.next().await {
                h.update(chunk.map_err(|e| format!("S3 GetObject body: {e}"))?);
            }
            Ok(crate::io::encode::hex(&h.finalize()))
        })
    }

    /// A whole object (a small table, a bundle to check), or None when there is no such
    /// key. Objects over `max` bytes are an error.
    pub fn fetch(uri: &str, opts: &S3Options, max: u64) -> Result<Option<Vec<u8>>, StoreError> {
        S3Store::with_object(uri, opts, async |resp| {
            if resp.content_length().unwrap_or(0) as u64 > max {
                return Err(format!("over the {max} byte limit for this object"));
            }
            resp.body
                .collect()
                .await
                .map(|b| b.into_bytes().to_vec())
                .map_err(|e| format!("S3 GetObject body: {e}"))
        })
    }
}

/// One object, read with ranged GETs.
struct S3Object {
    client: Client,
    rt: Arc<tokio::runtime::Runtime>,
    bucket: String,
    key: String,
    path: String,
    etag: Option<String>,
    version_id: Option<String>,
}

impl RangeRead for S3Object {
    fn read_into(&self, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        buf.clear();
        if len == 0 {
            return Ok(());
        }
        let range = format!("bytes={}-{}", offset, offset + len - 1);
        let wrong = move |n: String| {
            format!(
                "S3 returned {n} bytes for a {len} byte range at {offset} (did the object change?)"
            )
        };
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(range)
            .set_if_match(self.etag.clone())
            .set_version_id(self.version_id.clone());
        // The request runs as a task on the runtime, where the socket's readiness wakes it
        // on the thread that polls the socket; the caller waits once for the whole body.
        // Driven from the caller's thread (block_on), every piece of the body took a wake
        // across threads. The body goes into the caller's buffer as it arrives (one copy,
        // not two), and no more than the range asked for is taken from a server that sends
        // more.
        let mut into = std::mem::take(buf);
        into.reserve(len as usize);
        let task = self.rt.spawn(async move {
            let resp = match request.send().await {
                Ok(r) => r,
                Err(e) => return (into, Err(s3_error("GetObject", e))),
            };
            let mut body = resp.body;
            loop {
                match body.try_next().await {
                    Ok(Some(chunk)) => {
                        if (into.len() + chunk.len()) as u64 > len {
                            return (into, Err(wrong(format!("more than {len}"))));
                        }
                        into.extend_from_slice(&chunk);
                    }
                    Ok(None) => return (into, Ok(())),
                    Err(e) => return (into, Err(format!("S3 GetObject body: {e}"))),
                }
            }
        });
        let fetched = match self.rt.block_on(task) {
            Ok((filled, r)) => {
                *buf = filled;
                r
            }
            Err(e) => Err(format!("S3 GetObject: the request's task failed ({e})")),
        };
        fetched.map_err(|m| StoreError::new(&self.path, m))?;
        if buf.len() as u64 != len {
            // `wrong` only holds numbers, so the task took a copy of it.
            return Err(StoreError::new(&self.path, wrong(buf.len().to_string())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_ends_on_its_last_page_and_a_repeated_token_is_an_error() {
        assert_eq!(
            next_token(None, Some(true), Some("a")),
            Ok(Some("a".into()))
        );
        assert_eq!(
            next_token(Some("a"), Some(true), Some("b")),
            Ok(Some("b".into()))
        );
        assert_eq!(next_token(Some("a"), Some(false), Some("b")), Ok(None));
        assert_eq!(next_token(Some("a"), Some(true), None), Ok(None));
        assert_eq!(next_token(None, None, Some("a")), Ok(None));
        let e = next_token(Some("a"), Some(true), Some("a")).unwrap_err();
        assert!(e.contains("would not end"), "{e}");
    }

    #[test]
    fn uris_split_into_bucket_and_prefix() {
        assert_eq!(
            parse_uri("s3://analytics/silver_private"),
            Some(("analytics".into(), "silver_private/".into()))
        );
        assert_eq!(
            parse_uri("s3://analytics/silver_private/"),
            Some(("analytics".into(), "silver_private/".into()))
        );
        assert_eq!(
            parse_uri("s3://analytics"),
            Some(("analytics".into(), String::new()))
        );
        assert_eq!(parse_uri("s3:///x"), None);
        assert_eq!(parse_uri("/local/dir"), None);
    }
}

/// S3 Object Lock settings for an upload.
#[derive(Debug, Clone)]
pub struct Lock {
    pub compliance: bool,
    /// Retain-until, Unix seconds.
    pub retain_until: i64,
    pub legal_hold: bool,
}

/// What an upload under Object Lock left in the bucket, as read back from S3.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadReceipt {
    pub uri: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    /// `compliance` or `governance`.
    pub retention_mode: String,
    pub retain_until: String,
    pub legal_hold: bool,
    /// SHA-256 the bucket recorded (base64, as S3 reports it). For an object uploaded in
    /// parts it is S3's composite checksum: the SHA-256 of the parts' SHA-256 digests.
    pub checksum_sha256: String,
    /// Parts the object was uploaded in (1: a single PUT).
    pub parts: u32,
}

/// Standard base64 with padding (S3's checksum headers).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn unhex(h: &str) -> Option<Vec<u8>> {
    (0..h.len())
        .step_by(2)
        .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// Part size of multipart uploads: `VOUCH_S3_PART_MIB` (5 to 5120 MiB, default 32), raised
/// when a file would need more than S3's 10,000 parts. Files no larger than one part go up
/// in a single PUT.
fn part_size(size: u64) -> Result<u64, String> {
    const MIB: u64 = 1 << 20;
    let asked = match std::env::var("VOUCH_S3_PART_MIB") {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if (5..=5120).contains(&n) => n * MIB,
            _ => return Err(format!("VOUCH_S3_PART_MIB={v:?}: expected 5 to 5120")),
        },
        Err(_) => 32 * MIB,
    };
    let needed = size.div_ceil(10_000).div_ceil(MIB) * MIB;
    let part = asked.max(needed);
    if part > 5120 * MIB {
        return Err(format!("{size} bytes is more than S3 takes in one object"));
    }
    Ok(part)
}

/// User metadata recording an upload's whole-object SHA-256 (hex): S3's own checksum of a
/// multipart object is a checksum of its parts, so a rerun compares this instead.
const SHA256_METADATA: &str = "vouch-sha256";

impl S3Store {
    /// The whole-object SHA-256 (hex) vouch recorded when it uploaded `name` below the
    /// prefix, or None when there is no such object (or it was not uploaded by vouch).
    pub fn uploaded_sha256(&self, name: &str) -> Result<Option<String>, StoreError> {
        let key = self.key(name);
        let uri = format!("s3://{}/{key}", self.bucket);
        let head = self.rt.block_on(self.head_with_checksum(&key).send());
        match head {
            Ok(h) => Ok(h
                .metadata()
                .and_then(|m| m.get(SHA256_METADATA))
                .map(|s| s.to_ascii_lowercase())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(StoreError::new(&uri, s3_error("HeadObject", e))),
        }
    }
}

/// Parts uploaded at once; memory held is about this many parts.
const PARTS_IN_FLIGHT: usize = 4;

impl S3Store {
    /// Uploads `file` as `name` below the prefix with a SHA-256 checksum and Object Lock,
    /// then reads the lock, legal hold and checksum back and fails if any differs.
    /// Large files go up in parts; a failed multipart upload is aborted, so no incomplete
    /// upload is left behind.
    pub fn put_locked(
        &self,
        name: &str,
        file: &std::path::Path,
        sha256_hex: &str,
        lock: &Lock,
    ) -> Result<UploadReceipt, StoreError> {
        let key = self.key(name);
        let uri = format!("s3://{}/{key}", self.bucket);
        let fail = |m: String| StoreError::new(&uri, m);
        let size = std::fs::metadata(file)
            .map_err(|e| fail(crate::io::store::io_message(&e)))?
            .len();
        let part = part_size(size).map_err(fail)?;
        let asked = Asked::of(lock);
        let (checksum, parts) = if size <= part {
            let checksum = base64(&unhex(sha256_hex).ok_or_else(|| fail("bad SHA-256".into()))?);
            self.put_single(&key, file, &checksum, &asked, sha256_hex)
                .map_err(fail)?;
            (checksum, 1)
        } else {
            self.put_multipart(
                &key,
                file,
                size,
                part,
                &asked.mode,
                asked.until,
                &asked.hold,
                sha256_hex,
            )
            .map_err(fail)?
        };
        let expected = Expected {
            lock: lock.clone(),
            checksum,
            parts,
            size,
        };
        let mut head = self.read_back(&key).map_err(fail)?;
        if parts > 1 && ReadBack::of(&head).lock_differs(lock) {
            // Some S3-compatible stores ignore the lock given when a multipart upload is
            // created: set it on the completed version, then read it back again.
            let version = head.version_id().map(str::to_string);
            self.relock(&key, version, &asked).map_err(fail)?;
            head = self.read_back(&key).map_err(fail)?;
        }
        // Read back: what the bucket holds must be what was asked for.
        let read = ReadBack::of(&head);
        read.problem(&expected).map_or(Ok(()), |m| Err(fail(m)))?;
        Ok(UploadReceipt {
            uri,
            version_id: read.version_id,
            etag: read.etag,
            // Lowercase, as every other JSON field of vouch's (S3 says COMPLIANCE).
            retention_mode: asked.mode.as_str().to_lowercase(),
            retain_until: crate::io::encode::rfc3339(lock.retain_until),
            legal_hold: read.legal_hold,
            checksum_sha256: read.checksum.unwrap_or_default(),
            parts,
        })
    }

    /// One PutObject of a file no larger than a part, with its checksum and lock.
    fn put_single(
        &self,
        key: &str,
        file: &std::path::Path,
        checksum: &str,
        asked: &Asked,
        sha256_hex: &str,
    ) -> Result<(), String> {
        self.rt.block_on(async {
            let body = aws_sdk_s3::primitives::ByteStream::from_path(file)
                .await
                .map_err(|e| format!("cannot read the bundle: {e}"))?;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(body)
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
                .checksum_sha256(checksum)
                .object_lock_mode(asked.mode.clone())
                .object_lock_retain_until_date(asked.until)
                .object_lock_legal_hold_status(asked.hold.clone())
                .metadata(SHA256_METADATA, sha256_hex)
                .send()
                .await
                .map_err(|e| s3_error("PutObject", e))?;
            Ok(())
        })
    }

    /// The object's head as the bucket reports it now, checksum included.
    fn read_back(
        &self,
        key: &str,
    ) -> Result<aws_sdk_s3::operation::head_object::HeadObjectOutput, String> {
        self.rt
            .block_on(self.head_with_checksum(key).send())
            .map_err(|e| s3_error("HeadObject", e))
    }

    /// Sets the lock (and legal hold) on a version that was uploaded without it.
    fn relock(&self, key: &str, version: Option<String>, asked: &Asked) -> Result<(), String> {
        use aws_sdk_s3::types::{ObjectLockLegalHold, ObjectLockRetention};
        self.rt.block_on(async {
            self.client
                .put_object_retention()
                .bucket(&self.bucket)
                .key(key)
                .set_version_id(version.clone())
                .retention(
                    ObjectLockRetention::builder()
                        .mode(asked.retention_mode.clone())
                        .retain_until_date(asked.until)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| s3_error("PutObjectRetention", e))?;
            if asked.legal_hold {
                self.client
                    .put_object_legal_hold()
                    .bucket(&self.bucket)
                    .key(key)
                    .set_version_id(version)
                    .legal_hold(
                        ObjectLockLegalHold::builder()
                            .status(asked.hold.clone())
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| s3_error("PutObjectLegalHold", e))?;
            }
            Ok(())
        })
    }

    /// HeadObject asking for the object's checksum too.
    fn head_with_checksum(
        &self,
        key: &str,
    ) -> aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder {
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
    }

    /// A multipart upload of `file` in parts of `part` bytes, each with its SHA-256, a few in
    /// flight at once. Returns the composite checksum S3 computes (base64 of the SHA-256 of
    /// the parts' digests) and the part count. On any failure the upload is aborted.
    #[allow(clippy::too_many_arguments)]
    fn put_multipart(
        &self,
        key: &str,
        file: &std::path::Path,
        size: u64,
        part: u64,
        mode: &aws_sdk_s3::types::ObjectLockMode,
        until: aws_sdk_s3::primitives::DateTime,
        hold: &aws_sdk_s3::types::ObjectLockLegalHoldStatus,
        sha256_hex: &str,
    ) -> Result<(String, u32), String> {
        use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
        use sha2::{Digest, Sha256};
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::open(file).map_err(|e| crate::io::store::io_message(&e))?;
        let created = self
            .rt
            .block_on(
                self.client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .object_lock_mode(mode.clone())
                    .object_lock_retain_until_date(until)
                    .object_lock_legal_hold_status(hold.clone())
                    .metadata(SHA256_METADATA, sha256_hex)
                    .send(),
            )
            .map_err(|e| s3_error("CreateMultipartUpload", e))?;
        let upload_id = created
            .upload_id()
            .ok_or("S3 CreateMultipartUpload gave no upload id")?
            .to_string();
        let count = size.div_ceil(part);
        let result: Result<(String, u32), String> = self.rt.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            let mut done: Vec<CompletedPart> = Vec::with_capacity(count as usize);
            let mut digests = Sha256::new();
            for n in 0..count {
                if tasks.len() >= PARTS_IN_FLIGHT {
                    done.push(
                        tasks
                            .join_next()
                            .await
                            .ok_or("no part in flight")?
                            .map_err(|e| format!("a part upload stopped: {e}"))??,
                    );
                }
                let offset = n * part;
                let mut buf = vec![0u8; part.min(size - offset) as usize];
                f.read_exact_at(&mut buf, offset).map_err(|e| {
                    format!(
                        "cannot read the bundle: {}",
                        crate::io::store::io_message(&e)
                    )
                })?;
                let digest = Sha256::digest(&buf);
                digests.update(digest);
                let checksum = base64(&digest);
                let request = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(n as i32 + 1)
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .checksum_sha256(&checksum)
                    .body(buf.into());
                tasks.spawn(async move {
                    let r = request
                        .send()
                        .await
                        .map_err(|e| s3_error(&format!("UploadPart {}", n + 1), e))?;
                    Ok::<_, String>(
                        CompletedPart::builder()
                            .part_number(n as i32 + 1)
                            .set_e_tag(r.e_tag().map(str::to_string))
                            .checksum_sha256(checksum)
                            .build(),
                    )
                });
            }
            while let Some(r) = tasks.join_next().await {
                done.push(r.map_err(|e| format!("a part upload stopped: {e}"))??);
            }
            done.sort_by_key(|p| p.part_number());
            let composite = base64(&digests.finalize());
            let completed = self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(done))
                        .build(),
                )
                .send()
                .await;
            if let Err(e) = completed {
                // S3 may have completed the upload although its answer was lost or could
                // not be read (a retried Complete then gets NoSuchUpload). The object is
                // ours only if S3 reports exactly our size and composite checksum.
                let error = s3_error("CompleteMultipartUpload", e);
                match self.head_with_checksum(key).send().await {
                    Ok(h)
                        if h.content_length() == Some(size as i64)
                            && h.checksum_sha256()
                                .is_some_and(|c| checksum_matches(c, &composite, count as u32)) => {
                    }
                    _ => return Err(error),
                }
            }
            Ok((composite, count as u32))
        });
        // Whatever failed, leave no incomplete upload (and no stored parts) behind.
        let aborted = match &result {
            Ok(_) => None,
            Err(_) => Some(
                self.rt.block_on(
                    self.client
                        .abort_multipart_upload()
                        .bucket(&self.bucket)
                        .key(key)
                        .upload_id(&upload_id)
                        .send(),
                ),
            ),
        };
        if let (Err(e), Some(Err(a))) = (&result, aborted) {
            let gone = a.as_service_error().and_then(|s| s.code()) == Some("NoSuchUpload");
            if !gone {
                return Err(format!(
                    "{e}; then {} (upload {upload_id} is left: abort it, or let an \
                     AbortIncompleteMultipartUpload lifecycle rule remove it)",
                    s3_error("AbortMultipartUpload", a)
                ));
            }
        }
        result
    }
}

/// Whether the checksum S3 reports is the expected one. For a multipart object S3 reports
/// the composite checksum, as `<base64>-<parts>` (some compatible stores leave out the
/// suffix).
/// A [`Lock`] in the SDK's words.
struct Asked {
    mode: aws_sdk_s3::types::ObjectLockMode,
    retention_mode: aws_sdk_s3::types::ObjectLockRetentionMode,
    hold: aws_sdk_s3::types::ObjectLockLegalHoldStatus,
    until: aws_sdk_s3::primitives::DateTime,
    legal_hold: bool,
}

impl Asked {
    fn of(lock: &Lock) -> Asked {
        use aws_sdk_s3::types::{
            ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetentionMode,
        };
        let (mode, retention_mode) = if lock.compliance {
            (
                ObjectLockMode::Compliance,
                ObjectLockRetentionMode::Compliance,
            )
        } else {
            (
                ObjectLockMode::Governance,
                ObjectLockRetentionMode::Governance,
            )
        };
        Asked {
            mode,
            retention_mode,
            hold: if lock.legal_hold {
                ObjectLockLegalHoldStatus::On
            } else {
                ObjectLockLegalHoldStatus::Off
            },
            until: aws_sdk_s3::primitives::DateTime::from_secs(lock.retain_until),
            legal_hold: lock.legal_hold,
        }
    }
}

/// What an upload must read back as.
struct Expected {
    lock: Lock,
    /// Base64 SHA-256 of the object (a single PUT) or of its parts' digests.
    checksum: String,
    parts: u32,
    size: u64,
}

/// An uploaded object's head as S3 reported it, in plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ReadBack {
    /// `COMPLIANCE` or `GOVERNANCE`.
    mode: Option<String>,
    /// Unix seconds.
    retain_until: Option<i64>,
    legal_hold: bool,
    checksum: Option<String>,
    size: Option<i64>,
    version_id: Option<String>,
    etag: Option<String>,
}

impl ReadBack {
    fn of(h: &aws_sdk_s3::operation::head_object::HeadObjectOutput) -> ReadBack {
        ReadBack {
            mode: h.object_lock_mode().map(|m| m.as_str().to_string()),
            retain_until: h.object_lock_retain_until_date().map(|d| d.secs()),
            legal_hold: h.object_lock_legal_hold_status()
                == Some(&aws_sdk_s3::types::ObjectLockLegalHoldStatus::On),
            checksum: h.checksum_sha256().map(str::to_string),
            size: h.content_length(),
            version_id: h.version_id().map(str::to_string),
            etag: h.e_tag().map(str::to_string),
        }
    }

    /// The lock read back is not the lock asked for.
    fn lock_differs(&self, lock: &Lock) -> bool {
        self.mode.as_deref() != Some(mode_name(lock))
            || self.retain_until != Some(lock.retain_until)
            || self.legal_hold != lock.legal_hold
    }

    /// The first way the object differs from what was uploaded, or None.
    fn problem(&self, want: &Expected) -> Option<String> {
        let mode = mode_name(&want.lock);
        if self.mode.as_deref() != Some(mode) {
            return Some(format!(
                "read back lock mode {:?}, expected {mode}",
                self.mode.as_deref()
            ));
        }
        if self.retain_until != Some(want.lock.retain_until) {
            return Some(format!(
                "read back retain-until {:?}, expected {}",
                self.retain_until, want.lock.retain_until
            ));
        }
        if self.legal_hold != want.lock.legal_hold {
            return Some(format!(
                "read back legal hold {}, expected {}",
                self.legal_hold, want.lock.legal_hold
            ));
        }
        match &self.checksum {
            Some(c) if checksum_matches(c, &want.checksum, want.parts) => {}
            Some(c) => {
                return Some(format!("read back SHA-256 {c}, expected {}", want.checksum));
            }
            None => return Some("the bucket reports no SHA-256 checksum for the object".into()),
        }
        if self.size != Some(want.size as i64) {
            return Some(format!(
                "read back {:?} bytes, uploaded {}",
                self.size, want.size
            ));
        }
        None
    }
}

/// The lock mode as S3 names it.
fn mode_name(lock: &Lock) -> &'static str {
    if lock.compliance {
        "COMPLIANCE"
    } else {
        "GOVERNANCE"
    }
}

fn checksum_matches(reported: &str, expected: &str, parts: u32) -> bool {
    match reported.rsplit_once('-') {
        Some((c, n)) if parts > 1 => c == expected && n == parts.to_string(),
        _ => reported == expected,
    }
}

#[cfg(test)]
mod read_back_tests {
    use super::*;

    fn expected(parts: u32) -> Expected {
        Expected {
            lock: Lock {
                compliance: true,
                retain_until: 2_000_000_000,
                legal_hold: false,
            },
            checksum: "abc=".into(),
            parts,
            size: 10,
        }
    }

    fn good(parts: u32) -> ReadBack {
        ReadBack {
            mode: Some("COMPLIANCE".into()),
            retain_until: Some(2_000_000_000),
            legal_hold: false,
            checksum: Some(if parts > 1 {
                format!("abc=-{parts}")
            } else {
                "abc=".into()
            }),
            size: Some(10),
            version_id: Some("v1".into()),
            etag: None,
        }
    }

    #[test]
    fn what_was_asked_reads_back_clean() {
        assert_eq!(good(1).problem(&expected(1)), None);
        assert_eq!(good(3).problem(&expected(3)), None);
        assert!(!good(1).lock_differs(&expected(1).lock));
    }

    #[test]
    fn every_difference_is_named() {
        let want = expected(1);
        let cases: Vec<(ReadBack, &str)> = vec![
            (
                ReadBack {
                    mode: Some("GOVERNANCE".into()),
                    ..good(1)
                },
                "read back lock mode Some(\"GOVERNANCE\"), expected COMPLIANCE",
            ),
            (
                ReadBack {
                    mode: None,
                    ..good(1)
                },
                "read back lock mode None, expected COMPLIANCE",
            ),
            (
                ReadBack {
                    retain_until: Some(1_999_999_999),
                    ..good(1)
                },
                "read back retain-until Some(1999999999), expected 2000000000",
            ),
            (
                ReadBack {
                    legal_hold: true,
                    ..good(1)
                },
                "read back legal hold true, expected false",
            ),
            (
                ReadBack {
                    checksum: Some("xyz=".into()),
                    ..good(1)
                },
                "read back SHA-256 xyz=, expected abc=",
            ),
            (
                ReadBack {
                    checksum: None,
                    ..good(1)
                },
                "the bucket reports no SHA-256 checksum for the object",
            ),
            (
                ReadBack {
                    size: Some(9),
                    ..good(1)
                },
                "read back Some(9) bytes, uploaded 10",
            ),
        ];
        for (read, message) in cases {
            assert_eq!(read.problem(&want).as_deref(), Some(message));
        }
        // A composite checksum of the wrong part count is not the upload's.
        assert!(good(2).problem(&expected(3)).is_some());
        // A lock the store dropped (multipart) is noticed before the read-back check.
        let dropped = ReadBack {
            mode: None,
            retain_until: None,
            ..good(3)
        };
        assert!(dropped.lock_differs(&expected(3).lock));
    }
}

#[cfg(test)]
mod base64_tests {
    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}

/// One object version below a prefix and its Object Lock retention, as S3 reports it.
#[derive(Debug, Clone)]
pub struct VersionLock {
    pub key: String,
    pub version_id: Option<String>,
    /// Creation (last modified), Unix seconds.
    pub created: i64,
    /// `COMPLIANCE` or `GOVERNANCE`; None without retention.
    pub mode: Option<String>,
    /// Retain-until, Unix seconds.
    pub retain_until: Option<i64>,
}

/// A delete marker below a prefix.
#[derive(Debug, Clone)]
pub struct DeleteMarker {
    pub key: String,
    pub version_id: Option<String>,
    pub is_latest: bool,
}

/// Every version (with its lock, read with `HeadObject`) and delete marker below a
/// prefix: what `domain::retention::judge` decides on.
#[derive(Debug, Clone, Default)]
pub struct LockListing {
    pub location: String,
    pub versions: Vec<VersionLock>,
    pub markers: Vec<DeleteMarker>,
}

impl S3Store {
    /// Lists every version and delete marker below the prefix with each version's Object
    /// Lock retention.
    pub fn object_locks(&self) -> Result<LockListing, StoreError> {
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        self.for_each_version_page(&self.prefix, |page| {
            for v in page.versions() {
                versions.push((
                    v.key().unwrap_or("").to_string(),
                    v.version_id().map(str::to_string),
                    v.last_modified().map(|t| t.secs()).unwrap_or(0),
                ));
            }
            for m in page.delete_markers() {
                markers.push(DeleteMarker {
                    key: m.key().unwrap_or("").to_string(),
                    version_id: m.version_id().map(str::to_string),
                    is_latest: m.is_latest() == Some(true),
                });
            }
        })
        .map_err(|e| StoreError::new(&self.uri, e))?;
        let mut listing = LockListing {
            location: self.uri.clone(),
            versions: Vec::with_capacity(versions.len()),
            markers,
        };
        for (key, version_id, created) in versions {
            let head = self
                .rt
                .block_on(
                    self.client
                        .head_object()
                        .bucket(&self.bucket)
                        .key(&key)
                        .set_version_id(version_id.clone())
                        .send(),
                )
                .map_err(|e| {
                    StoreError::new(
                        format!("s3://{}/{key}", self.bucket),
                        s3_error("HeadObject", e),
                    )
                })?;
            listing.versions.push(VersionLock {
                key,
                version_id,
                created,
                mode: head.object_lock_mode().map(|m| m.as_str().to_string()),
                retain_until: head.object_lock_retain_until_date().map(|d| d.secs()),
            });
        }
        Ok(listing)
    }
}

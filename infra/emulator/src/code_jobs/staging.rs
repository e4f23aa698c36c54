//! A job's data between local S3 and its folder: inputs down before it starts, outputs up
//! when it ends, as SageMaker stages them for a container.

use std::path::{Path, PathBuf};

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

/// `s3://bucket/key` → (bucket, key).
pub fn split_uri(uri: &str) -> Result<(&str, &str), String> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/').or(Some((rest, ""))))
        .filter(|(bucket, _)| !bucket.is_empty())
        .ok_or_else(|| format!("'{uri}' is not an s3://bucket/key URI"))
}

/// Where an object under `prefix` lands below the local folder: its key past the prefix;
/// an object whose key is the prefix itself (one file named) keeps its file name. A key
/// whose rest has a `.` or `..` segment would land elsewhere, and is refused by name.
pub fn relative_path(prefix: &str, key: &str) -> Result<PathBuf, String> {
    let rest = key
        .strip_prefix(prefix)
        .unwrap_or(key)
        .trim_start_matches('/');
    let rest = if rest.is_empty() {
        key.rsplit('/').next().unwrap_or(key)
    } else {
        rest
    };
    let parts: Vec<&str> = rest.split('/').filter(|part| !part.is_empty()).collect();
    if parts.is_empty() || parts.iter().any(|part| *part == "." || *part == "..") {
        return Err(format!(
            "ClientError: the S3 key '{key}' would be written outside the job's folder"
        ));
    }
    Ok(parts.iter().collect())
}

/// Every object under the S3 prefix `uri`, into `local`. Counts the objects; none is an
/// error, as SageMaker fails a job whose input prefix holds nothing.
pub async fn download(s3: &aws_sdk_s3::Client, uri: &str, local: &Path) -> Result<usize, String> {
    let (bucket, prefix) = split_uri(uri)?;
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("listing {uri}: {}", DisplayErrorContext(&e)))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.ends_with('/') {
                continue;
            }
            let target = local.join(relative_path(prefix, key)?);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            download_file(s3, &format!("s3://{bucket}/{key}"), &target).await?;
            count += 1;
        }
    }
    if count == 0 {
        return Err(format!("no object in local S3 under {uri}"));
    }
    Ok(count)
}

/// The largest manifest file read.
const MAX_MANIFEST: usize = 16 * 1024 * 1024;

/// Every object a manifest file lists (`[{"prefix": "s3://bucket/prefix/"}, "key", ...]`,
/// as SageMaker's ManifestFile inputs are), into `local` by its key past the prefix.
pub async fn download_manifest(
    s3: &aws_sdk_s3::Client,
    uri: &str,
    local: &Path,
) -> Result<usize, String> {
    let (body, length) = object(s3, uri, "the manifest ").await?;
    // Its size is checked before it is read: a manifest is read whole.
    if length.unwrap_or_default() > MAX_MANIFEST as i64 {
        return Err(format!("the manifest {uri} is over {MAX_MANIFEST} bytes"));
    }
    let body = body
        .collect()
        .await
        .map_err(|e| format!("reading the manifest {uri}: {e}"))?
        .into_bytes();
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&body)
        .map_err(|e| format!("the manifest {uri} is not a JSON array: {e}"))?;
    let prefix = entries
        .first()
        .and_then(|first| first["prefix"].as_str())
        .ok_or_else(|| {
            format!("the manifest {uri} does not start with {{\"prefix\": \"s3://...\"}}")
        })?;
    let prefix = if prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    };
    let mut count = 0;
    for entry in &entries[1..] {
        let relative = entry
            .as_str()
            .ok_or_else(|| format!("the manifest {uri} lists {entry}, which is not a key"))?;
        let target = local.join(relative_path("", relative)?);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        download_file(s3, &format!("{prefix}{relative}"), &target).await?;
        count += 1;
    }
    if count == 0 {
        return Err(format!("the manifest {uri} lists no object"));
    }
    Ok(count)
}

/// Every file below `local`, to the S3 prefix `uri` (its path below `local` as the rest of
/// the key). Counts the objects. Symbolic links are never followed: the job made them,
/// and one may point at any file of the user's (a link is refused by name).
pub async fn upload(s3: &aws_sdk_s3::Client, local: &Path, uri: &str) -> Result<usize, String> {
    let (bucket, prefix) = split_uri(uri)?;
    let prefix = prefix.trim_end_matches('/');
    let mut count = 0;
    let mut folders = vec![local.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if kind.is_symlink() {
                return Err(refused_link(&path, local));
            }
            if kind.is_dir() {
                folders.push(path);
                continue;
            }
            let rest = path
                .strip_prefix(local)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let key = if prefix.is_empty() {
                rest
            } else {
                format!("{prefix}/{rest}")
            };
            let body = ByteStream::from_path(&path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            s3.put_object()
                .bucket(bucket)
                .key(&key)
                .body(body)
                .send()
                .await
                .map_err(|e| format!("writing s3://{bucket}/{key}: {}", DisplayErrorContext(&e)))?;
            count += 1;
        }
    }
    Ok(count)
}

/// A symbolic link a job left where its files are collected, refused by its path below
/// the job's folder.
fn refused_link(path: &Path, local: &Path) -> String {
    let to = std::fs::read_link(path)
        .map(|to| to.display().to_string())
        .unwrap_or_default();
    format!(
        "ClientError: {} is a symbolic link (to {to}); the emulator never follows a job's links out of its folder",
        path.strip_prefix(local).unwrap_or(path).display()
    )
}

/// One object of local S3, not yet read, and its length; `what` names it in an error
/// (`reading <what><uri>: ...`).
async fn object(
    s3: &aws_sdk_s3::Client,
    uri: &str,
    what: &str,
) -> Result<(ByteStream, Option<i64>), String> {
    let (bucket, key) = split_uri(uri)?;
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("reading {what}{uri}: {}", DisplayErrorContext(&e)))?;
    Ok((object.body, object.content_length))
}

/// One object of local S3 to a file, streamed: memory stays flat whatever its size. The
/// file is made new, never through a link.
pub async fn download_file(s3: &aws_sdk_s3::Client, uri: &str, file: &Path) -> Result<(), String> {
    let (body, _) = object(s3, uri, "").await?;
    let mut out = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    tokio::io::copy(&mut body.into_async_read(), &mut out)
        .await
        .map_err(|e| format!("reading {uri} into {}: {e}", file.display()))?;
    Ok(())
}

/// A file to one object of local S3.
pub async fn upload_file(s3: &aws_sdk_s3::Client, file: &Path, uri: &str) -> Result<(), String> {
    let (bucket, key) = split_uri(uri)?;
    let body = ByteStream::from_path(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("writing {uri}: {}", DisplayErrorContext(&e)))?;
    Ok(())
}

/// A `.tar.gz` unpacked into `folder`; entries that would land outside it are refused
/// (the tar crate's `unpack_in`).
pub fn unpack(archive: &Path, folder: &Path) -> Result<(), String> {
    let file = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut entries = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in entries
        .entries()
        .map_err(|e| format!("not a .tar.gz: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("not a .tar.gz: {e}"))?;
        entry
            .unpack_in(folder)
            .map_err(|e| format!("unpacking into {}: {e}", folder.display()))?;
    }
    Ok(())
}

/// `folder`'s files, packed as a `.tar.gz` at `archive`, paths relative to the folder. A
/// symbolic link is packed as a link, as `tar` packs it: never the file it points at.
pub fn pack(folder: &Path, archive: &Path) -> Result<(), String> {
    let file = std::fs::File::create(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", folder)
        .and_then(|()| builder.into_inner())
        .and_then(|gz| gz.finish())
        .map(drop)
        .map_err(|e| format!("packing {}: {e}", folder.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_object_keeps_its_name_and_a_prefix_its_structure() {
        assert_eq!(
            relative_path("code/preprocessing.py", "code/preprocessing.py").unwrap(),
            PathBuf::from("preprocessing.py")
        );
        assert_eq!(
            relative_path("run/train", "run/train/part/train.csv").unwrap(),
            PathBuf::from("part/train.csv")
        );
        assert_eq!(
            relative_path("run/train/", "run/train/a.csv").unwrap(),
            PathBuf::from("a.csv")
        );
        assert_eq!(
            relative_path("run/train", "run/train//a//b.csv").unwrap(),
            PathBuf::from("a/b.csv")
        );
    }

    #[test]
    fn a_key_that_climbs_out_of_the_folder_is_refused_by_name() {
        for key in ["data/../../../../tmp/x", "data/./x", "data/..", ".."] {
            let refused = relative_path("data", key).unwrap_err();
            assert!(refused.contains(key), "{refused}");
        }
    }

    #[tokio::test]
    async fn a_link_is_packed_as_a_link_and_never_uploaded() {
        let work = tempfile::tempdir().unwrap();
        let secret = work.path().join("secret");
        std::fs::write(&secret, "the user's credentials").unwrap();
        let folder = work.path().join("model");
        std::fs::create_dir_all(&folder).unwrap();
        std::os::unix::fs::symlink(&secret, folder.join("leak")).unwrap();
        let archive = work.path().join("model.tar.gz");
        pack(&folder, &archive).unwrap();
        let packed = std::fs::read(&archive).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&packed[..]), &mut text)
            .unwrap();
        assert!(!text.contains("the user's credentials"));
        // Refused before any call: this client reaches nothing.
        let s3 = crate::code_jobs::offline_s3();
        let refused = upload(&s3, &folder, "s3://b/out").await.unwrap_err();
        assert!(refused.contains("leak is a symbolic link"), "{refused}");
    }

    #[test]
    fn a_packed_folder_unpacks_as_it_was() {
        let work = tempfile::tempdir().unwrap();
        let folder = work.path().join("model");
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        std::fs::write(folder.join("model.joblib"), "weights").unwrap();
        std::fs::write(folder.join("sub/meta.json"), "{}").unwrap();
        let archive = work.path().join("model.tar.gz");
        pack(&folder, &archive).unwrap();
        let out = work.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        unpack(&archive, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("model.joblib")).unwrap(),
            "weights"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("sub/meta.json")).unwrap(),
            "{}"
        );
        assert!(
            unpack(&folder.join("model.joblib"), &out).is_err(),
            "not an archive"
        );
    }

    #[test]
    fn uris_split_into_bucket_and_key() {
        assert_eq!(split_uri("s3://b/k/x").unwrap(), ("b", "k/x"));
        assert_eq!(split_uri("s3://b").unwrap(), ("b", ""));
        assert!(split_uri("/local/path").is_err());
        assert!(split_uri("s3:///k").is_err());
    }
}

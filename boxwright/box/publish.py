"""Publish a box where a team can reach it: an S3 bucket or a directory a web server serves.

The local catalog (``dist/boxes/<name>.json``) points at ``file://`` URLs; the
published one points at the public URLs of the same ``.box`` files, with their
sha256 checksums, so ``vagrant box add URL``, ``vagrant box outdated`` and
``vagrant box update`` work from any machine.  Layout under the target::

    <prefix>/<name>/catalog.json
    <prefix>/<name>/<version>/<name>-<version>-<provider>-<arch>.box

Order makes a half-finished publish invisible: every new ``.box`` is uploaded
(and its size checked) first, under a key the old catalog does not name; the
catalog goes last, in one atomic write (an S3 PUT replaces an object whole; a
directory gets a temporary file renamed over the old one).  A version already
published with the same checksum is not uploaded again; one published with a
*different* checksum is refused (Vagrant caches boxes by version).

S3 credentials come from the usual places boto3 looks (``AWS_ACCESS_KEY_ID``/
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` or ``profile``, the shared files),
never from an argument or the definition.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from boxwright.box.catalog import parse_catalog, read_catalog, version_key
from boxwright.errors import CatalogError, PublishError, UsageError

__all__ = ["CATALOG_NAME", "Published", "parse_target", "publish_box", "read_published"]

log = logging.getLogger(__name__)

CATALOG_NAME = "catalog.json"
BOX_TYPE = "application/octet-stream"
JSON_TYPE = "application/json"  # Vagrant takes a URL for a catalog only when served as JSON
#: S3 calls give up after this many tries (an unreachable endpoint fails in seconds, not minutes).
S3_ATTEMPTS = 3


@dataclass
class Published:
    """What one publish did."""

    catalog_url: str
    uploaded: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    seconds: float = 0.0


class _Store(Protocol):
    def describe(self, key: str) -> str: ...
    def check(self) -> None: ...
    def read(self, key: str) -> bytes | None: ...
    def put_file(self, key: str, path: Path, content_type: str) -> None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str


@dataclass(frozen=True)
class DirTarget:
    directory: Path


def parse_target(to: str) -> S3Target | DirTarget:
    """``s3://bucket[/prefix]`` or a directory (a path or ``file://`` URL)."""
    if to.startswith("s3://"):
        bucket, _, prefix = to[len("s3://"):].partition("/")
        if not bucket:
            raise UsageError(f"--to {to}: no bucket (expected s3://BUCKET[/PREFIX])")
        return S3Target(bucket, prefix.strip("/"))
    if "://" in to and not to.startswith("file://"):
        raise UsageError(f"--to {to}: expected s3://BUCKET[/PREFIX] or a directory")
    return DirTarget(_path_of(to).resolve())


def _path_of(url: str) -> Path:
    """The local path of a ``file://`` URL or of a plain path."""
    return Path(urllib.parse.unquote(urllib.parse.urlparse(url).path) if url.startswith("file://") else url)


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def publish_box(
    name: str,
    to: str,
    *,
    dist: Path | None = None,
    base_url: str = "",
    endpoint: str = "",
    profile: str = "",
    dry: bool = False,
) -> Published:
    """Upload every version of ``dist/<name>.json`` that ``to`` lacks, then the merged catalog."""
    from boxwright.box.build import dist_boxes

    started = time.monotonic()
    target = parse_target(to)
    local_catalog = (dist or dist_boxes()) / f"{name}.json"
    box_name = f"boxwright/{name}"
    if not local_catalog.is_file():
        raise CatalogError(f"{local_catalog}: no such catalog; build the box first (./kit build-box)")
    local = read_catalog(local_catalog, box_name)
    if not local["versions"]:
        raise CatalogError(f"{local_catalog}: no version to publish; build one first (./kit build-box)")
    store: _Store
    if isinstance(target, S3Target):
        store = _S3Store(target, endpoint, profile)
        base = base_url or _s3_public_base(target, endpoint, store)
        prefix = target.prefix
    else:
        if endpoint:
            raise UsageError("--endpoint is for s3:// targets")
        if not base_url:
            raise UsageError(f"--to {to}: a directory needs --base-url (the URL a web server serves it at)")
        store = _DirStore(target.directory)
        base, prefix = base_url, ""
    catalog_key = _join(prefix, name, CATALOG_NAME)
    result = Published(catalog_url=f"{base.rstrip('/')}/{_join(name, CATALOG_NAME)}")
    plan = _plan(local, name, prefix, base)
    result.providers = sorted({entry["name"] for _key, _path, entry in plan})
    if dry:
        for key, path, _entry in plan:
            log.info("would upload %s -> %s", path, store.describe(key))
        log.info("would write the catalog %s last", store.describe(catalog_key))
        return result
    store.check()
    remote = _remote_catalog(store, catalog_key, box_name, local)
    published = {(v["version"], p.get("name")): p for v in remote["versions"] for p in v.get("providers", [])}
    merged = {v["version"]: {**v, "providers": list(v.get("providers", []))} for v in remote["versions"]}
    for key, path, entry in plan:
        version = key.split("/")[-2]
        old = published.get((version, entry["name"]))
        if old is not None:
            if old.get("checksum") != entry["checksum"]:
                raise PublishError(
                    f"{store.describe(key)}: version {version} ({entry['name']}) is already published with "
                    "another checksum; a version is never replaced (build a new one)")
            result.already.append(key)
            continue
        log.info("uploading %s (%.0f MB) -> %s", path.name, path.stat().st_size / 1e6, store.describe(key))
        store.put_file(key, path, BOX_TYPE)
        result.uploaded.append(key)
        result.bytes_uploaded += path.stat().st_size
        merged.setdefault(version, {k: v for k, v in _local_version(local, version).items()
                                    if k != "providers"} | {"providers": []})
        merged[version]["providers"] = [
            *(p for p in merged[version]["providers"] if p.get("name") != entry["name"]), entry]
    catalog = {
        "name": box_name,
        "description": local.get("description", remote.get("description", "")),
        "versions": sorted(merged.values(), key=lambda v: version_key(v["version"])),
    }
    result.versions = [v["version"] for v in catalog["versions"]]
    if result.uploaded or catalog != remote:
        store.put_bytes(catalog_key, (json.dumps(catalog, indent=2) + "\n").encode(), JSON_TYPE)
        log.info("catalog %s lists %d version(s)", store.describe(catalog_key), len(result.versions))
    result.seconds = time.monotonic() - started
    return result


def _local_version(local: dict[str, Any], version: str) -> dict[str, Any]:
    return next(v for v in local["versions"] if v["version"] == version)


def _plan(local: dict[str, Any], name: str, prefix: str, base: str) -> list[tuple[str, Path, dict[str, Any]]]:
    """(key, local file, published provider entry) for every provider of every local version."""
    plan = []
    for version in local["versions"]:
        for provider in version.get("providers", []):
            path = _path_of(provider["url"])
            if not path.is_file():
                raise CatalogError(f"{path}: in the local catalog ({version['version']}) but missing")
            relative = _join(name, version["version"], path.name)
            entry = {**provider, "url": f"{base.rstrip('/')}/{relative}"}
            plan.append((_join(prefix, relative), path, entry))
    return plan


def _remote_catalog(store: _Store, key: str, box_name: str, local: dict[str, Any]) -> dict[str, Any]:
    data = store.read(key)
    if data is None:
        return {"name": box_name, "description": local.get("description", ""), "versions": []}
    return parse_catalog(data, store.describe(key), box_name)


def read_published(url: str, *, endpoint: str = "", profile: str = "") -> dict[str, Any]:
    """A published catalog by its URL: ``http(s)://``, ``s3://bucket/key``, ``file://`` or a path."""
    if url.startswith("s3://"):
        bucket, _, key = url[len("s3://"):].partition("/")
        data = _S3Store(S3Target(bucket, ""), endpoint, profile).read(key)
        if data is None:
            raise CatalogError(f"{url}: no such catalog")
    elif url.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                data = response.read()
        except (urllib.error.URLError, OSError) as error:
            raise CatalogError(f"{url}: cannot read the published catalog ({_reason(error)})") from None
    else:
        path = _path_of(url)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CatalogError(f"{url}: cannot read the published catalog ({error.strerror})") from None
    try:
        catalog = json.loads(data)
        [str(v["version"]) for v in catalog["versions"]]
    except (ValueError, KeyError, TypeError):
        raise CatalogError(f"{url}: not a Vagrant box catalog") from None
    return dict(catalog)


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or error
    return str(reason)


class _DirStore:
    """A directory a web server serves: files appear whole (temporary name, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, key: str) -> str:
        return str(self.root / key)

    def check(self) -> None:
        if not self.root.is_dir():
            raise PublishError(f"{self.root}: no such directory (create it, or check --to)")
        if not os.access(self.root, os.W_OK):
            raise PublishError(f"{self.root}: not writable")

    def read(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        with self._replacing(key) as tmp, path.open("rb") as source, tmp.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._replacing(key) as tmp:
            tmp.write_bytes(data)

    def _replacing(self, key: str) -> Any:
        from boxwright.atomic import atomic_file

        return atomic_file(self.root / key)


class _S3Store:
    """One bucket on any S3-compatible endpoint, through boto3."""

    def __init__(self, target: S3Target, endpoint: str, profile: str) -> None:
        import boto3
        import botocore.config
        import botocore.exceptions

        self.bucket, self.endpoint = target.bucket, endpoint
        try:
            session = boto3.session.Session(profile_name=profile or None)
        except botocore.exceptions.ProfileNotFound:
            raise PublishError(f"no AWS profile {profile!r} in the AWS config files") from None
        self.region = session.region_name or "us-east-1"
        self.client = session.client(
            "s3", endpoint_url=endpoint or None, region_name=self.region,
            config=botocore.config.Config(
                retries={"max_attempts": S3_ATTEMPTS, "mode": "standard"}, connect_timeout=5,
                read_timeout=120, s3={"addressing_style": "path" if endpoint else "auto"},
            ),
        )

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def check(self) -> None:
        """One request that proves the endpoint answers, the bucket exists and the key may use it."""
        self._call(self.client.head_bucket, f"s3://{self.bucket}", Bucket=self.bucket)

    def read(self, key: str) -> bytes | None:
        import botocore.exceptions

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error(error, self.describe(key)) from None
        except botocore.exceptions.BotoCoreError as error:
            raise self._error(error, self.describe(key)) from None
        return bytes(response["Body"].read())

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self._call(self.client.upload_file, self.describe(key), str(path), self.bucket, key,
                   ExtraArgs={"ContentType": content_type})
        head = self._call(self.client.head_object, self.describe(key), Bucket=self.bucket, Key=key)
        if int(head["ContentLength"]) != path.stat().st_size:
            raise PublishError(f"{self.describe(key)}: stored {head['ContentLength']} bytes, "
                               f"not {path.stat().st_size}")

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        # no-cache: `vagrant box outdated` must see a new version, not a cached catalog.
        self._call(self.client.put_object, self.describe(key), Bucket=self.bucket, Key=key, Body=data,
                   ContentType=content_type, CacheControl="no-cache")

    def _call(self, method: Any, what: str, *args: Any, **kwargs: Any) -> Any:
        import boto3.exceptions
        import botocore.exceptions

        try:
            return method(*args, **kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError,
                boto3.exceptions.S3UploadFailedError) as error:
            raise self._error(error, what) from None

    def _error(self, error: Exception, what: str) -> PublishError:
        """One line that says which of the usual three it is: credentials, bucket, endpoint."""
        import botocore.exceptions

        where = self.endpoint or "AWS S3"
        if isinstance(error, botocore.exceptions.NoCredentialsError):
            return PublishError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                                "(or AWS_PROFILE / --profile)")
        unreachable = botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError
        if isinstance(error, unreachable):
            return PublishError(f"cannot reach the S3 endpoint {where} ({_reason(error)})")
        if isinstance(error, botocore.exceptions.ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",) or (status == 404 and what == f"s3://{self.bucket}"):
                return PublishError(f"no bucket {self.bucket!r} at {where}")
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied") or status == 403:
                return PublishError(f"{where} refused the credentials for {what} ({code or status}): "
                                    "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile")
            return PublishError(f"{what}: S3 error {code or status}")
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return PublishError(f"{what}: {text}")


def _s3_public_base(target: S3Target, endpoint: str, store: _S3Store | _Store) -> str:
    """Where anonymous clients read the bucket: path style on a custom endpoint, AWS's virtual host."""
    if endpoint:
        return "/".join(part for part in (endpoint.rstrip("/"), target.bucket, target.prefix) if part)
    region = getattr(store, "region", "us-east-1")
    return "/".join(part for part in (f"https://{target.bucket}.s3.{region}.amazonaws.com", target.prefix)
                    if part)

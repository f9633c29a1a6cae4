"""Where document bytes live: a folder on disk by default, S3-compatible object storage when set.

Both backends store opaque keys (random names chosen by the caller); nothing here
knows about rounds or people. `storage()` picks the backend from the config:
`FORUM_DOCUMENT_STORAGE=disk` (default, `FORUM_DOCUMENT_DIR`, default
instance/documents) or `s3` (`FORUM_S3_BUCKET`, optional `FORUM_S3_ENDPOINT_URL`
for MinIO and the like, `FORUM_S3_PREFIX`; credentials the usual boto3 way).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Protocol

from flask import current_app

KEY = re.compile(r"[A-Za-z0-9_-]{16,100}(\.[a-z]{2,4})?")


class Storage(Protocol):
    """What the documents service needs from a place that keeps bytes."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None:
        """Delete the key's bytes; a key that is not there is done (no error)."""
        ...


def no_such_object(err: Exception) -> bool:
    """Whether an S3 client's error says the object is not there (boto3's ClientError)."""
    answer = getattr(err, "response", None)
    code = answer.get("Error", {}).get("Code") if isinstance(answer, dict) else None
    return code in ("NoSuchKey", "404", "NotFound")


def _check(key: str) -> str:
    if not KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class DiskStorage:
    """Files in one folder, named by their keys; written to a temporary name, then renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / _check(key)
        partial = target.with_name(target.name + ".part")
        try:
            with open(partial, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            partial.chmod(0o600)
            partial.replace(target)
        except BaseException:
            # a full disk, say: the bytes written so far go, not left to fill it further
            partial.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return (self.root / _check(key)).read_bytes()

    def delete(self, key: str) -> None:
        (self.root / _check(key)).unlink(missing_ok=True)


class S3Storage:
    """Objects in an S3-compatible bucket (AWS, MinIO, Ceph, ...) through boto3."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, **options: Any) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3", **{k: v for k, v in options.items() if v})
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}{_check(key)}"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        reply = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        return bytes(reply["Body"].read())

    def delete(self, key: str) -> None:
        # AWS answers 204 for a missing object; some S3-compatible services answer 404
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as err:
            if not no_such_object(err):
                raise


def storage() -> Storage:
    """The configured backend (one per app, made on first use)."""
    ext = current_app.extensions
    if "forum_storage" not in ext:
        config = current_app.config
        if config["FORUM_DOCUMENT_STORAGE"] == "s3":
            ext["forum_storage"] = S3Storage(
                config["FORUM_S3_BUCKET"],
                config["FORUM_S3_PREFIX"],
                endpoint_url=config["FORUM_S3_ENDPOINT_URL"],
                region_name=config["FORUM_S3_REGION"],
            )
        else:
            ext["forum_storage"] = DiskStorage(Path(config["FORUM_DOCUMENT_DIR"]))
    return ext["forum_storage"]  # type: ignore[no-any-return]

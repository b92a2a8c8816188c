"""S3 implementation of the blob store."""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import BlobNotFound, UploadGone, UploadInvalid
from chalicelib.storage import paths

# CopyObject copies at most 5 GiB in one call; beyond that the managed copy
# splits into UploadPartCopy calls.
_SINGLE_COPY_LIMIT = 5 * 1024**3


class S3BlobStore:
    def __init__(self, s3_client: Any, bucket: str):
        self._s3 = s3_client
        self._bucket = bucket

    # -- presigned access ----------------------------------------------------
    def presign_get(self, digest: str, *, ttl: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": paths.blob_key(digest)}, ExpiresIn=ttl
        )

    def presign_head(self, digest: str, *, ttl: int) -> str:
        return self._s3.generate_presigned_url(
            "head_object", Params={"Bucket": self._bucket, "Key": paths.blob_key(digest)}, ExpiresIn=ttl
        )

    # -- content-addressed objects ---------------------------------------------
    def put_blob(self, digest: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=paths.blob_key(digest), Body=data)

    def blob_exists(self, digest: str) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=paths.blob_key(digest))
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise
        return True

    def put_manifest(self, digest: str, data: bytes) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=paths.manifest_key(digest), Body=data
        )

    def get_manifest(self, digest: str) -> bytes:
        try:
            obj = self._s3.get_object(Bucket=self._bucket, Key=paths.manifest_key(digest))
        except ClientError as exc:
            if _status(exc) == 404:
                raise BlobNotFound(f"manifest bytes for {digest} are missing") from None
            raise
        return obj["Body"].read()

    # -- upload sessions -------------------------------------------------------
    def start_multipart(self, upload_id: str) -> str:
        out = self._s3.create_multipart_upload(Bucket=self._bucket, Key=paths.upload_data_key(upload_id))
        return out["UploadId"]

    def put_part(self, upload_id: str, multipart_id: str, number: int, data: bytes) -> str:
        try:
            out = self._s3.upload_part(
                Bucket=self._bucket,
                Key=paths.upload_data_key(upload_id),
                UploadId=multipart_id,
                PartNumber=number,
                Body=data,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                raise UploadGone("the upload's multipart upload was completed or aborted") from None
            raise
        return out["ETag"]

    def finish_multipart(self, upload_id: str, multipart_id: str, parts: Sequence[tuple[int, str]]) -> None:
        try:
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=paths.upload_data_key(upload_id),
                UploadId=multipart_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchUpload":
                raise UploadGone("the upload's multipart upload was completed or aborted") from None
            if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
                # a concurrent writer replaced a part: the session can't be trusted
                raise UploadInvalid(f"upload parts are inconsistent ({code}); restart the upload") from None
            raise

    def abort_multipart(self, upload_id: str, multipart_id: str) -> None:
        try:
            self._s3.abort_multipart_upload(
                Bucket=self._bucket, Key=paths.upload_data_key(upload_id), UploadId=multipart_id
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    def put_tail(self, upload_id: str, start: int, data: bytes) -> str:
        key = paths.upload_tail_key(upload_id, start, start + len(data), uuid.uuid4().hex)
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data)
        return key

    def get_tail(self, key: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _status(exc) == 404:
                raise UploadInvalid("upload data expired or was removed; restart the upload") from None
            raise

    def delete_keys(self, keys: Sequence[str]) -> None:
        keys = [k for k in keys if k]
        for start in range(0, len(keys), 1000):
            self._s3.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
            )

    def promote_upload(self, upload_id: str, digest: str, size: int) -> None:
        """Move a completed multipart upload to its content-addressed key."""
        source = {"Bucket": self._bucket, "Key": paths.upload_data_key(upload_id)}
        target = paths.blob_key(digest)
        if size <= _SINGLE_COPY_LIMIT:
            self._s3.copy_object(Bucket=self._bucket, Key=target, CopySource=source)
        else:
            self._s3.copy(source, self._bucket, target)
        self._s3.delete_object(**source)

    def read_upload(self, upload_id: str) -> Iterator[bytes]:
        obj = self._s3.get_object(Bucket=self._bucket, Key=paths.upload_data_key(upload_id))
        yield from obj["Body"].iter_chunks(chunk_size=1024 * 1024)

    # -- maintenance -----------------------------------------------------------
    def list_stale_multiparts(self, older_than: Any) -> Iterator[tuple[str, str]]:
        """(key, multipart id) of upload sessions started before `older_than`."""
        paginator = self._s3.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=paths.UPLOADS_PREFIX):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < older_than:
                    yield upload["Key"], upload["UploadId"]


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))

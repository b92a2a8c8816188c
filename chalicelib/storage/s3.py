"""S3 implementation of the blob store."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.errors import BlobNotFound, UploadGone, UploadInvalid
from chalicelib.storage import paths
from chalicelib.storage.blobs import ObjectExists, StoredObject


class S3BlobStore:
    def __init__(self, s3_client: Any, bucket: str):
        self._s3 = s3_client
        self._bucket = bucket

    # -- presigned access ----------------------------------------------------
    def presign_get(self, key: str, *, ttl: int) -> str:
        return self._s3.generate_presigned_url("get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=ttl)

    def presign_head(self, key: str, *, ttl: int) -> str:
        return self._s3.generate_presigned_url("head_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=ttl)

    # -- manifests -------------------------------------------------------------
    def put_manifest(self, digest: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=paths.manifest_key(digest), Body=data)

    def get_manifest(self, digest: str) -> bytes:
        try:
            obj = self._s3.get_object(Bucket=self._bucket, Key=paths.manifest_key(digest))
        except ClientError as exc:
            if _status(exc) == 404:
                raise BlobNotFound(f"manifest bytes for {digest} are missing") from None
            raise
        return obj["Body"].read()

    # -- objects -----------------------------------------------------------------
    def put_blob(self, digest: str, data: bytes) -> None:
        self.put_object(paths.blob_key(digest), data)

    def put_object(self, key: str, data: bytes, *, only_new: bool = False) -> None:
        extra = {"IfNoneMatch": "*"} if only_new else {}
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, **extra)
        except ClientError as exc:
            # 412: the object exists; 409: a concurrent conditional write is in flight
            if only_new and _status(exc) in (409, 412):
                raise ObjectExists(key) from None
            raise

    def get_object(self, key: str) -> bytes:
        return b"".join(self.read_object(key))

    def read_object(self, key: str) -> Iterator[bytes]:
        try:
            obj = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                raise UploadInvalid("upload data expired or was removed; restart the upload") from None
            raise
        yield from obj["Body"].iter_chunks(chunk_size=1024 * 1024)

    def delete_keys(self, keys: Sequence[str]) -> None:
        keys = [k for k in keys if k]
        for start in range(0, len(keys), 1000):
            self._s3.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True},
            )

    def list_objects(self, prefix: str, *, start_after: str | None = None) -> Iterator[StoredObject]:
        paginator = self._s3.get_paginator("list_objects_v2")
        extra = {"StartAfter": start_after} if start_after else {}
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix, **extra):
            for obj in page.get("Contents", []):
                yield StoredObject(obj["Key"], int(obj["Size"]), obj["LastModified"])

    # -- multipart uploads -------------------------------------------------------
    def start_multipart(self, key: str) -> str:
        return self._s3.create_multipart_upload(Bucket=self._bucket, Key=key)["UploadId"]

    def put_part(self, key: str, multipart_id: str, number: int, data: bytes) -> str:
        try:
            out = self._s3.upload_part(Bucket=self._bucket, Key=key, UploadId=multipart_id, PartNumber=number, Body=data)
        except ClientError as exc:
            _raise_if_gone(exc)
            raise
        return out["ETag"]

    def copy_part(self, key: str, multipart_id: str, number: int, source_key: str) -> str:
        """A part copied inside S3 (UploadPartCopy, up to 5 GiB): the bytes never leave S3."""
        out = self._s3.upload_part_copy(
            Bucket=self._bucket,
            Key=key,
            UploadId=multipart_id,
            PartNumber=number,
            CopySource={"Bucket": self._bucket, "Key": source_key},
        )
        return out["CopyPartResult"]["ETag"]

    def list_parts(self, key: str, multipart_id: str) -> list[tuple[int, str]]:
        try:
            paginator = self._s3.get_paginator("list_parts")
            return [
                (int(p["PartNumber"]), p["ETag"])
                for page in paginator.paginate(Bucket=self._bucket, Key=key, UploadId=multipart_id)
                for p in page.get("Parts", [])
            ]
        except ClientError as exc:
            _raise_if_gone(exc)
            raise

    def finish_multipart(self, key: str, multipart_id: str, parts: Sequence[tuple[int, str]]) -> None:
        try:
            self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=multipart_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in sorted(parts)]},
            )
        except ClientError as exc:
            _raise_if_gone(exc)
            code = exc.response.get("Error", {}).get("Code")
            if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
                raise UploadInvalid(f"upload parts are inconsistent ({code}); restart the upload") from None
            raise

    def abort_multipart(self, key: str, multipart_id: str) -> None:
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=multipart_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    # -- maintenance -----------------------------------------------------------
    def list_stale_multiparts(self, older_than: Any) -> Iterator[tuple[str, str]]:
        """(key, multipart id) of multipart uploads started before `older_than`: every one
        belongs to an upload in flight (blobs/uploaded/<id>, or a blob's own key)."""
        paginator = self._s3.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self._bucket):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < older_than:
                    yield upload["Key"], upload["UploadId"]


def _raise_if_gone(exc: ClientError) -> None:
    if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
        raise UploadGone("the upload's multipart upload was completed or aborted") from None


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


if TYPE_CHECKING:
    from chalicelib.storage.blobs import BlobStore, MemoryBlobStore

    def _implementations(s3: S3BlobStore, memory: MemoryBlobStore) -> tuple[BlobStore, BlobStore]:
        """mypy's check that both keep the contract (here: blobs.py imports no backend)."""
        return s3, memory

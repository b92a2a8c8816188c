"""The local stack's data on disk: the registry's S3 objects, DynamoDB items and SSM
parameters, kept in a folder so that they outlive ``make run``.

Everything goes through the AWS APIs moto serves (list/get/put objects, scan and
batch-write items, get/put parameters), so it works whatever moto keeps inside and
whichever moto version runs. Saving runs in a thread of its own every ``interval``
seconds, and once more at shutdown; a crash loses at most the last interval.

Layout of ``<data dir>/<stage>/`` (one folder per stage, git-ignored):

- ``s3/index.json`` key -> file, ETag, content type and metadata; ``s3/objects/<sha256 of
  the key>`` the bytes. Only objects whose ETag changed are downloaded again.
- ``dynamodb.json`` every item of the table, in DynamoDB's JSON (binary values base64).
- ``ssm.json`` the parameters under the stage's prefix (secrets included: local only).
- ``admin-password`` the password the stack printed for ``admin`` the first time.

Consistency: the table is scanned before the bucket is listed, and written after the
bucket's index, so the files on disk never name a blob that is not saved (blobs are
stored before the metadata that refers to them). Each file is replaced atomically.
Uploads in progress (multipart) are not saved.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("devstack")

SAVE_INTERVAL = 2.0  # seconds: what a crash can lose at most (plus one save's run time)
_BATCH = 25  # BatchWriteItem's limit
_SCHEDULE_FIELDS = ("Name", "GroupName", "ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow",
                    "State", "Description", "Target")


class DataDirInUse(RuntimeError):
    """Another stack is running over the same folder."""


@dataclass(frozen=True)
class Resources:
    """Where the stage's data lives in moto (names come from the stack outputs)."""

    bucket: str
    table: str
    ssm_prefix: str
    schedule_prefix: str = ""  # the stage's EventBridge schedules (chalicelib/schedules.py)


@dataclass
class Restored:
    objects: int = 0
    items: int = 0
    parameters: int = 0
    schedules: int = 0

    @property
    def empty(self) -> bool:
        return not (self.objects or self.items or self.parameters or self.schedules)


class LocalData:
    """One stage's folder: restore it into moto, keep it up to date, save at shutdown.

    ``make_client(service)`` returns a boto3 client for moto (passed in: this module
    knows nothing of endpoints or credentials).
    """

    def __init__(
        self,
        folder: Path,
        make_client: Callable[[str], Any],
        *,
        interval: float = SAVE_INTERVAL,
    ) -> None:
        self.folder = folder
        self._client = make_client
        self._interval = interval
        self._resources: Resources | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()
        self._lock_file: Any = None
        self._last_table = ""
        self._last_ssm = ""
        self._last_schedules = ""
        self._saved_index: dict[str, dict[str, Any]] = {}  # the bucket as last saved

    # ------------------------------------------------------------------ folder

    def open(self, *, fresh: bool = False) -> LocalData:
        """Create and lock the folder; with ``fresh``, set the old data aside first."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lock_path = self.folder / ".lock"
        self._lock_file = open(lock_path, "a+")  # noqa: SIM115 - held while running
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise DataDirInUse(
                f"another stack is running over {self.folder} "
                "(stop it, or use --data-dir with another folder)"
            ) from None
        if fresh:
            self._set_aside()
        return self

    def _set_aside(self) -> None:
        """--fresh: the previous data goes to ``<folder>.previous`` (one generation)."""
        previous = self.folder.with_name(self.folder.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        previous.mkdir()
        for entry in self.folder.iterdir():
            if entry.name != ".lock":
                entry.rename(previous / entry.name)
        log.info("--fresh: starting empty; the previous data is in %s", previous)

    def close(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    # ------------------------------------------------------------------ admin password

    def admin_password(self) -> str | None:
        path = self.folder / "admin-password"
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def keep_admin_password(self, password: str) -> None:
        path = self.folder / "admin-password"
        if self.admin_password() == password:
            return
        _write_atomic(path, password.encode() + b"\n", mode=0o600)

    # ------------------------------------------------------------------ restore

    def restore(self, resources: Resources) -> Restored:
        """Put what the folder holds into moto's (new, empty) resources."""
        self._resources = resources
        done = Restored()
        done.objects = self._restore_bucket(resources.bucket)
        done.items = self._restore_table(resources.table)
        done.parameters = self._restore_parameters()
        done.schedules = self._restore_schedules()
        return done

    def _restore_bucket(self, bucket: str) -> int:
        index = _read_json(self.folder / "s3" / "index.json") or {}
        s3 = self._client("s3")
        for key, entry in index.items():
            with open(self.folder / "s3" / "objects" / entry["file"], "rb") as body:
                extra: dict[str, Any] = {"Metadata": entry.get("metadata") or {}}
                if entry.get("content_type"):
                    extra["ContentType"] = entry["content_type"]
                etag = s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)["ETag"]
            # what moto holds now is what the folder holds: nothing to download again
            self._saved_index[key] = {**entry, "etag": etag}
        return len(index)

    def _restore_table(self, table: str) -> int:
        path = self.folder / "dynamodb.json"
        items = _read_json(path) or []
        ddb = self._client("dynamodb")
        for start in range(0, len(items), _BATCH):
            requests = [{"PutRequest": {"Item": _decode_item(item)}} for item in items[start : start + _BATCH]]
            pending: dict[str, Any] = {table: requests}
            while pending:
                pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if path.exists():
            self._last_table = _digest(path.read_bytes())
        return len(items)

    def _restore_parameters(self) -> int:
        path = self.folder / "ssm.json"
        parameters = _read_json(path) or []
        ssm = self._client("ssm")
        for parameter in parameters:
            ssm.put_parameter(
                Name=parameter["Name"],
                Value=parameter["Value"],
                Type=parameter["Type"],
                Overwrite=True,
            )
        if path.exists():
            self._last_ssm = _digest(path.read_bytes())
        return len(parameters)

    def _restore_schedules(self) -> int:
        path = self.folder / "schedules.json"
        schedules = _read_json(path) or []
        scheduler = self._client("scheduler")
        for schedule in schedules:
            try:
                scheduler.create_schedule(**schedule)
            except scheduler.exceptions.ConflictException:
                scheduler.update_schedule(**schedule)
        if path.exists():
            self._last_schedules = _digest(path.read_bytes())
        return len(schedules)

    # ------------------------------------------------------------------ save

    def start(self) -> LocalData:
        """Save every ``interval`` seconds from a thread of its own."""
        self._thread = threading.Thread(target=self._run, name="local-data", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the saving thread and save once more (moto must still answer)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._resources is not None:
            self.save()
        self.close()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.save()
            except Exception:
                log.exception("saving the local data to %s failed", self.folder)

    def save(self) -> None:
        """One snapshot: table first, bucket next, then the files in the safe order."""
        if self._resources is None:
            raise RuntimeError("restore() names the resources before anything is saved")
        with self._save_lock:
            items = self._scan_table(self._resources.table)
            parameters = self._read_parameters(self._resources.ssm_prefix)
            self._save_bucket(self._resources.bucket)
            table = json.dumps(items, sort_keys=True).encode()
            if _digest(table) != self._last_table:
                _write_atomic(self.folder / "dynamodb.json", table)
                self._last_table = _digest(table)
            ssm = json.dumps(parameters, sort_keys=True).encode()
            if _digest(ssm) != self._last_ssm:
                _write_atomic(self.folder / "ssm.json", ssm, mode=0o600)
                self._last_ssm = _digest(ssm)
            if self._resources.schedule_prefix:
                schedules = json.dumps(self._read_schedules(self._resources.schedule_prefix), sort_keys=True).encode()
                if _digest(schedules) != self._last_schedules:
                    _write_atomic(self.folder / "schedules.json", schedules)
                    self._last_schedules = _digest(schedules)

    def _scan_table(self, table: str) -> list[dict[str, Any]]:
        ddb = self._client("dynamodb")
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(_encode_item(item) for item in page.get("Items", []))
        items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return items

    def _read_parameters(self, prefix: str) -> list[dict[str, str]]:
        ssm = self._client("ssm")
        out = []
        pages = ssm.get_paginator("get_parameters_by_path").paginate(
            Path=prefix, Recursive=True, WithDecryption=True
        )
        for page in pages:
            for parameter in page.get("Parameters", []):
                out.append({k: parameter[k] for k in ("Name", "Type", "Value")})
        return sorted(out, key=lambda p: p["Name"])

    def _read_schedules(self, prefix: str) -> list[dict[str, Any]]:
        """The stage's schedules, as create_schedule takes them."""
        scheduler = self._client("scheduler")
        out = []
        for page in scheduler.get_paginator("list_schedules").paginate(NamePrefix=prefix):
            for item in page.get("Schedules", []):
                found = scheduler.get_schedule(Name=item["Name"], GroupName=item.get("GroupName", "default"))
                out.append({k: found[k] for k in _SCHEDULE_FIELDS if found.get(k) not in (None, "")})
        return sorted(out, key=lambda s: s["Name"])

    def _save_bucket(self, bucket: str) -> None:
        s3 = self._client("s3")
        objects_dir = self.folder / "s3" / "objects"
        objects_dir.mkdir(parents=True, exist_ok=True)
        old = self._saved_index or _read_json(self.folder / "s3" / "index.json") or {}
        index: dict[str, dict[str, Any]] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], obj["ETag"]
                known = old.get(key)
                if known and known.get("etag") == etag and (objects_dir / known["file"]).exists():
                    index[key] = known
                    continue
                entry = self._download(s3, bucket, key, objects_dir)
                if entry is not None:  # gone since the listing: not saved
                    index[key] = entry
        if index != old or not (self.folder / "s3" / "index.json").exists():
            _write_atomic(self.folder / "s3" / "index.json", json.dumps(index, sort_keys=True).encode())
            kept = {entry["file"] for entry in index.values()}
            for path in objects_dir.iterdir():
                if path.name not in kept and not path.name.startswith("."):
                    path.unlink(missing_ok=True)
        self._saved_index = index

    def _download(self, s3: Any, bucket: str, key: str, objects_dir: Path) -> dict[str, Any] | None:
        try:
            answer = s3.get_object(Bucket=bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        name = hashlib.sha256(key.encode()).hexdigest()
        partial = objects_dir / f".{name}.partial"
        with open(partial, "wb") as out:
            shutil.copyfileobj(answer["Body"], out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(objects_dir / name)
        return {
            "file": name,
            "etag": answer["ETag"],
            "content_type": answer.get("ContentType") or "",
            "metadata": answer.get("Metadata") or {},
        }


def _encode_item(value: Any) -> Any:
    """DynamoDB JSON with binary values as base64 text (JSON has no bytes)."""
    if isinstance(value, dict):
        out = {}
        for kind, inner in value.items():
            if kind == "B":
                out[kind] = base64.b64encode(inner).decode()
            elif kind == "BS":
                out[kind] = [base64.b64encode(b).decode() for b in inner]
            else:
                out[kind] = _encode_item(inner)
        return out
    if isinstance(value, list):
        return [_encode_item(v) for v in value]
    return value


def _decode_item(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for kind, inner in value.items():
            if kind == "B" and isinstance(inner, str):
                out[kind] = base64.b64decode(inner)
            elif kind == "BS" and isinstance(inner, list):
                out[kind] = [base64.b64decode(b) for b in inner]
            else:
                out[kind] = _decode_item(inner)
        return out
    if isinstance(value, list):
        return [_decode_item(v) for v in value]
    return value


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a temporary file, flush it to disk, rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)

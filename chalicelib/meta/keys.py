"""DynamoDB key layout, in one place (docs/architecture.md repeats it).

One table, string keys PK and SK:

    PK                     SK                              item
    R#<repo>               B#<digest>                      blob link: the repo may serve this blob
    R#<repo>               M#<digest>                      manifest (bytes inline or in S3)
    R#<repo>               T#<tag>                         tag -> manifest digest (+ manifest copy)
    R#<repo>               F#<subject>#<referrer digest>   referrer of <subject>
    CATALOG                <repo>                          repository, listed by _catalog
    BLOB#<digest>          BLOB                            blob bytes exist in S3 (size)
    U#<upload id>          U                               upload session (TTL: expires_at)

Lists (tags, catalog, referrers) are Queries on one partition in sort-key
order, so a page costs the same whatever the total.
"""
from __future__ import annotations

CATALOG_PK = "CATALOG"
TTL_ATTRIBUTE = "expires_at"


def repo_pk(name: str) -> str:
    return f"R#{name}"


def link_sk(digest: str) -> str:
    return f"B#{digest}"


def manifest_sk(digest: str) -> str:
    return f"M#{digest}"


TAG_PREFIX = "T#"


def tag_sk(tag: str) -> str:
    return f"{TAG_PREFIX}{tag}"


def referrer_prefix(subject: str) -> str:
    return f"F#{subject}#"


def referrer_sk(subject: str, digest: str) -> str:
    return f"F#{subject}#{digest}"


def blob_pk(digest: str) -> str:
    return f"BLOB#{digest}"


BLOB_SK = "BLOB"


def upload_pk(upload_id: str) -> str:
    return f"U#{upload_id}"


UPLOAD_SK = "U"


def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}

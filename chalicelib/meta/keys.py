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
    FILL#<digest>          FILL                            a proxy cache copying a big blob (until; TTL)

Accounts (chalicelib/meta/accounts.py):

    PK                     SK                              item
    USER#<username>        USER                            user account
    USER#<username>        MEMBEROF#<project>              reverse index of one membership
    USERS                  <username>                      user, listed in name order
    PROJECT#<name>         PROJECT                         project
    PROJECT#<name>         MEMBER#u#<username>             a user's role in the project
    PROJECT#<name>         MEMBER#g#<group dn, lower case> an LDAP group's role in the project
    PROJECTS               <name>                          project, listed in name order
    PUBLIC_PROJECTS        <name>                          a public project, listed (for the catalog)
    ROBOT#<full name>      ROBOT                           robot account: robot$<project>+<name>
                                                           (project level) or robot$<name> (system)
    ROBOTS                 <full name>                     robot, listed in name order (a
                                                           project's robots share a prefix)
    ID#<kind>#<id>         ID                              Harbor's integer id -> name (user,
                                                           project, robot)
    COUNTER                <kind>                          last integer id handed out for <kind>
    NAME#<account key>     NAME                            the user or robot holding this name, up to
                                                           case and confusables (meta/account_names.py key())

List sizes (X-Total-Count), kept in the transactions that add and remove entries
(docs/decisions/lists-read-one-page.md):

    N#<list>               N                               list_size: how many entries <list>
                                                           has. <list>: USERS, PROJECTS,
                                                           PUBLIC_PROJECTS, ROBOTS, ROBOTS#<project>,
                                                           MEMBERS#<project>, REPOS#<project>

Audit log (chalicelib/meta/audit.py): each entry once per lookup, TTL expires_at:

    LOG#P#<project> | LOG#U#<user> | LOG#O#<operation> | LOG#D#<yyyy-mm-dd>    <iso time>#<id>

Domain events' outbox (chalicelib/meta/outbox_items.py), TTL expires_at: written in
the change's own transaction, carried from the table's stream to the event bus:

    EVT#<event id>         EVT                             the event (CloudEvents JSON)

Webhooks (chalicelib/meta/webhooks.py): a project's policies, and the delivery log
(one execution per event and policy, its tasks one per target, inline), TTL expires_at:

    HOOK#<project>                    POLICY#<policy id, 10 digits>
    HOOKRUN#<project>#<policy id>     <execution id, 20 digits> (ids grow with time)

Labels (chalicelib/meta/labels.py): the label by id, its listing by scope (which
holds its name there, once), and a label on an artifact:

    LABEL#<id>                        LABEL
    LABELS#g | LABELS#p#<project id>  <name>
    R#<repo>                          L#<digest>#<label id>

Replication (chalicelib/meta/registries.py): the remote registries (one partition: a
handful, listed with one Query) and the claim on each one's name; their secrets are in SSM:

    REGISTRIES                        <registry id, 10 digits>
    REGISTRY_NAME#<name>              REGISTRY_NAME
    REPLICATION_POLICIES              <policy id, 10 digits>
    REPLICATION_POLICY_NAME#<name>    REPLICATION_POLICY_NAME
    REPLICATION_EXECUTIONS            <execution id, 10 digits>   a run (a Step Functions execution)
    REPLICATION_TASKS#<execution id>  <task id, 6 digits>         one artifact of a run, its log
    REPLICATION_TRIGGER#<event id>    <policy id, 10 digits>      an event started that policy's run (TTL)

Tag immutability rules (chalicelib/meta/immutable_rules.py): a project's rules in one
item, read with a push's references in its one BatchGetItem:

    IMMUTABLE#<project>               RULES

Quotas (chalicelib/meta/quotas.py): a project's storage limit and usage, and each blob
its manifests name, once per project, with how many of them name it (kept in the
manifest writes' own transactions):

    QUOTA#<project>                   QUOTA
    PBLOB#<project>                   <digest>

Tag retention (chalicelib/meta/retention.py): a project's policy (its id is the project's
`retention_id` metadata), its runs (Harbor's executions) and their tasks (one per repository):

    RETENTION#<policy id>                 POLICY
    RETENTION_EXECUTIONS#<policy id>      <execution id, 10 digits>
    RETENTION_TASKS#<execution id>        <task id, 6 digits>     one repository: what was kept and deleted, its log

Garbage collection (chalicelib/meta/gc.py; docs/decisions/garbage-collection.md): the
blobs that may have become garbage (written where a blob's count of projects falls to 0
or an upload links a new blob; 16 partitions by the digest's first hex digit), the runs,
each run's log, the one-run-at-a-time lease and the schedule:

    GCQ#<hex digit>                   <digest>
    GCRUNS                            <run id, 10 digits>
    GCLOG#<run id>                    <time>#<n>
    GCLEASE                           LEASE
    GCSCHEDULE                        SCHEDULE
    GCSTATE                           UPLOADS     how far the uploads' clean-up has judged
    GCSTATE                           UNTAGGED    the untagged step's one pass over every repository is done
    GCDIRTY#<hex digit>               <repo>      a repository where a manifest may have become untagged since
                                                  the last run (written in the change's transaction; 16
                                                  partitions by the first hex digit of sha256(<repo>))

Web-console sessions (chalicelib/meta/sessions.py), TTL expires_at:

    SESSION#<sha256 of the cookie's secret>   SESSION

Lists (tags, catalog, referrers, the management API's lists) are Queries on one
partition in sort-key order, so a page costs the same whatever the total.
"""
from __future__ import annotations

import hashlib

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


def digest_of_blob_pk(pk: str) -> str:
    return pk[len("BLOB#"):]


BLOB_SK = "BLOB"


def uploaded_pk(upload_id: str) -> str:
    """An upload session's object (blobs/uploaded/<id>) is claimed by a blob: written with
    the link, so a session completes once and the clean-up knows what to keep."""
    return f"UPLOADED#{upload_id}"


UPLOADED_SK = "UPLOADED"


def fill_pk(digest: str) -> str:
    """A proxy cache's copy of a big blob in progress (chalicelib/proxy_cache.py)."""
    return f"FILL#{digest}"


FILL_SK = "FILL"

HEALTH_PK = "HEALTH"  # never written: the health check reads it (RegistryMeta.ping)
HEALTH_SK = "HEALTH"


OUTBOX_PREFIX = "EVT#"
OUTBOX_SK = "EVT"


def outbox_pk(event_id: str) -> str:
    return f"{OUTBOX_PREFIX}{event_id}"


def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def key_arg(pk: str, sk: str) -> dict[str, dict[str, dict[str, str]]]:
    return {"Key": key(pk, sk)}


# -- accounts ------------------------------------------------------------------------
USERS_PK = "USERS"
USER_SK = "USER"


def user_pk(username: str) -> str:
    return f"USER#{username}"


MEMBEROF_PREFIX = "MEMBEROF#"


def member_of_sk(project: str) -> str:
    return f"{MEMBEROF_PREFIX}{project}"


PROJECTS_PK = "PROJECTS"
PUBLIC_PROJECTS_PK = "PUBLIC_PROJECTS"
PROJECT_SK = "PROJECT"


def project_pk(name: str) -> str:
    return f"PROJECT#{name}"


MEMBER_PREFIX = "MEMBER#"


def member_sk(entity_type: str, entity_name: str) -> str:
    """A user member by name; a group member by its DN, which LDAP compares without case."""
    if entity_type == "g":
        entity_name = entity_name.lower()
    return f"{MEMBER_PREFIX}{entity_type}#{entity_name}"


ROBOTS_PK = "ROBOTS"
ROBOT_SK = "ROBOT"


def robot_pk(full_name: str) -> str:
    return f"ROBOT#{full_name}"


def id_pk(kind: str, number: int) -> str:
    return f"ID#{kind}#{number}"


ID_SK = "ID"
NAME_SK = "NAME"


def name_pk(account_key: str) -> str:
    return f"NAME#{account_key}"

COUNTER_PK = "COUNTER"


# -- webhooks ------------------------------------------------------------------------
HOOK_POLICY_PREFIX = "POLICY#"


def hook_pk(project: str) -> str:
    return f"HOOK#{project}"


def hook_policy_sk(policy_id: int) -> str:
    return f"{HOOK_POLICY_PREFIX}{policy_id:010d}"


def hook_run_pk(project: str, policy_id: int) -> str:
    return f"HOOKRUN#{project}#{policy_id}"


def hook_run_sk(execution_id: int) -> str:
    return f"{execution_id:020d}"


# -- labels --------------------------------------------------------------------------
LABEL_SK = "LABEL"
ARTIFACT_LABEL_PREFIX = "L#"


def label_pk(label_id: int) -> str:
    return f"LABEL#{label_id}"


def labels_pk(scope: str, project_id: int = 0) -> str:
    """Where a scope's labels are listed: "g" (global) or "p" with the project's id."""
    return "LABELS#g" if scope == "g" else f"LABELS#p#{project_id}"


def artifact_labels_prefix(digest: str) -> str:
    return f"{ARTIFACT_LABEL_PREFIX}{digest}#"


def artifact_label_sk(digest: str, label_id: int) -> str:
    return f"{artifact_labels_prefix(digest)}{label_id}"

# -- replication ---------------------------------------------------------------------
REGISTRIES_PK = "REGISTRIES"
REGISTRY_NAME_SK = "REGISTRY_NAME"


def registry_sk(registry_id: int) -> str:
    return f"{registry_id:010d}"


def registry_name_pk(name: str) -> str:
    return f"REGISTRY_NAME#{name}"


REPLICATION_POLICIES_PK = "REPLICATION_POLICIES"
REPLICATION_POLICY_NAME_SK = "REPLICATION_POLICY_NAME"


def replication_policy_sk(policy_id: int) -> str:
    return f"{policy_id:010d}"


def replication_policy_name_pk(name: str) -> str:
    return f"REPLICATION_POLICY_NAME#{name}"


REPLICATION_EXECUTIONS_PK = "REPLICATION_EXECUTIONS"


def replication_execution_sk(execution_id: int) -> str:
    return f"{execution_id:010d}"


# the run that last started of a policy with `single_active_replication` (meta/replication.py)
REPLICATION_ACTIVE_PK = "REPLICATION_ACTIVE"


def replication_active_sk(policy_id: int) -> str:
    return f"{policy_id:010d}"


def replication_tasks_pk(execution_id: int) -> str:
    return f"REPLICATION_TASKS#{execution_id}"


def replication_task_sk(task_id: int) -> str:
    return f"{task_id:06d}"


def replication_trigger_pk(event_id: str) -> str:
    return f"REPLICATION_TRIGGER#{event_id}"


def replication_trigger_sk(policy_id: int) -> str:
    return f"{policy_id:010d}"


# -- tag immutability ----------------------------------------------------------------
RULES_SK = "RULES"


def immutable_pk(project: str) -> str:
    return f"IMMUTABLE#{project}"


# -- quotas ----------------------------------------------------------------------------
QUOTA_SK = "QUOTA"


def quota_pk(project: str) -> str:
    return f"QUOTA#{project}"


def project_blobs_pk(project: str) -> str:
    return f"PBLOB#{project}"


# -- tag retention ----------------------------------------------------------------------
RETENTION_POLICY_SK = "POLICY"


def retention_pk(policy_id: int) -> str:
    return f"RETENTION#{policy_id}"


def retention_executions_pk(policy_id: int) -> str:
    return f"RETENTION_EXECUTIONS#{policy_id}"


def retention_execution_sk(execution_id: int) -> str:
    return f"{execution_id:010d}"


def retention_tasks_pk(execution_id: int) -> str:
    return f"RETENTION_TASKS#{execution_id}"


def retention_task_sk(task_id: int) -> str:
    return f"{task_id:06d}"


# -- garbage collection ---------------------------------------------------------------
GC_RUNS_PK = "GCRUNS"
GC_LEASE_PK = "GCLEASE"
GC_LEASE_SK = "LEASE"
GC_SCHEDULE_PK = "GCSCHEDULE"
GC_SCHEDULE_SK = "SCHEDULE"
GC_STATE_PK = "GCSTATE"
GC_UPLOADS_SK = "UPLOADS"
GC_UNTAGGED_SK = "UNTAGGED"
GC_SHARDS = "0123456789abcdef"


def gc_candidates_pk(digest_or_shard: str) -> str:
    """The candidates' partition of a digest (or of a shard: one hex digit)."""
    shard = digest_or_shard.split(":", 1)[-1][:1] if ":" in digest_or_shard else digest_or_shard[:1]
    return f"GCQ#{shard}"


def gc_changed_shard(repository: str) -> str:
    """The shard (one hex digit) of a repository's change mark: spread over 16 partitions,
    as the candidates are, so that pushes into many repositories do not share one."""
    return hashlib.sha256(repository.encode()).hexdigest()[0]


def gc_changed_pk(shard: str) -> str:
    """The partition of one shard's change marks (gc_changed_shard)."""
    return f"GCDIRTY#{shard}"


def gc_run_sk(run_id: int) -> str:
    return f"{run_id:010d}"


def gc_log_pk(run_id: int) -> str:
    return f"GCLOG#{run_id}"


# -- list sizes ----------------------------------------------------------------------
COUNT_SK = "N"
COUNT_ATTRIBUTE = "list_size"
USERS_LIST = "USERS"
PROJECTS_LIST = "PROJECTS"
PUBLIC_PROJECTS_LIST = "PUBLIC_PROJECTS"
ROBOTS_LIST = "ROBOTS"


def count_pk(list_name: str) -> str:
    return f"N#{list_name}"


def robots_list(project: str) -> str:
    return f"ROBOTS#{project}"


def members_list(project: str) -> str:
    return f"MEMBERS#{project}"


def repositories_list(project: str) -> str:
    return f"REPOS#{project}"


def project_of(repository: str) -> str:
    """The project a repository belongs to: its first path component."""
    return repository.split("/", 1)[0]

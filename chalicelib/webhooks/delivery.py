"""Delivery jobs: one message per (event, policy, target) on the deliveries queue,
one attempt per message, so a slow receiver holds up its own job only.

A job that fails with a timeout, a broken connection, 429 or a 5xx goes back on
the queue with a delay (SQS DelaySeconds): exponential backoff with jitter,
within a bounded time; then its task is recorded as failed (`Error`), with the
reason. Any other answer is final. The target is read again at every attempt:
the job carries no secret, and a policy disabled or deleted meanwhile stops it.
"""
from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chalicelib.events.envelope import Event, NotAnEvent
from chalicelib.webhooks.payloads import ProjectInfo, request_for
from chalicelib.webhooks.sender import Outcome

logger = logging.getLogger("berth.webhooks")
MAX_DELAY = 900  # SQS's largest DelaySeconds


@dataclass(frozen=True)
class RetryPolicy:
    """Delay before attempt n+1 after n failed ones: half of min(cap, base * 2**(n-1)),
    plus a random part up to the other half (backoff with "equal jitter"); no more
    attempts past `max_attempts` or `window` seconds after the first."""

    base: float = 5.0
    cap: float = 300.0
    max_attempts: int = 8
    window: float = 3600.0

    def delay(self, failed: int, rand: Callable[[], float] = random.random) -> int:
        ceiling = min(self.cap, self.base * 2 ** max(0, failed - 1))
        return min(MAX_DELAY, round(ceiling / 2 + rand() * ceiling / 2))

    def next_delay(self, failed: int, first_at: float, now: float, rand: Callable[[], float] = random.random) -> int | None:
        """Seconds until the next attempt, None when there is to be none."""
        if failed >= self.max_attempts:
            return None
        delay = self.delay(failed, rand)
        if now + delay - first_at > self.window:
            return None
        return delay


@dataclass
class Job:
    project: ProjectInfo
    policy_id: int
    execution_id: int
    task: int  # the target's number in the policy, from 1
    event: Event
    attempt: int = 1
    first_at: float = 0.0

    def to_message(self) -> str:
        return json.dumps(
            {
                "project": {"name": self.project.name, "id": self.project.project_id, "public": self.project.public},
                "policy_id": self.policy_id,
                "execution_id": self.execution_id,
                "task": self.task,
                "event": self.event.to_json(),
                "attempt": self.attempt,
                "first_at": self.first_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_message(cls, body: str) -> Job:
        doc = json.loads(body)
        project = doc["project"]
        return cls(
            ProjectInfo(str(project["name"]), int(project["id"]), bool(project["public"])),
            int(doc["policy_id"]),
            int(doc["execution_id"]),
            int(doc["task"]),
            Event.from_json(doc["event"]),
            int(doc.get("attempt", 1)),
            float(doc.get("first_at", 0)),
        )


class JobQueue:
    """The deliveries queue (infra/berth.yaml, WebhookDeliveriesQueue)."""

    def __init__(self, sqs: Any, url: str):
        self._sqs = sqs
        self.url = url

    def send(self, jobs: list[Job], delay: int = 0) -> None:
        for start in range(0, len(jobs), 10):  # SendMessageBatch takes 10
            entries = [
                {"Id": str(n), "MessageBody": job.to_message(), "DelaySeconds": delay}
                for n, job in enumerate(jobs[start : start + 10])
            ]
            out = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            if out.get("Failed"):  # raise: the caller's batch is delivered again
                raise RuntimeError(f"{len(out['Failed'])} webhook jobs were not queued: {out['Failed'][0].get('Code')}")


@dataclass
class Deliverer:
    webhooks: Any  # chalicelib.meta.webhooks.DynamoWebhooks
    sender: Any  # sender.HttpSender
    queue: JobQueue
    registry_host: str
    clock: Callable[[], float] = time.time
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rand: Callable[[], float] = random.random

    def deliver_all(self, jobs: Iterable[Job]) -> list[str]:
        """One attempt per job, side by side (a slow receiver holds up no other); their statuses."""
        jobs = list(jobs)
        if len(jobs) <= 1:
            return [self.deliver(job) for job in jobs]
        with ThreadPoolExecutor(max_workers=min(10, len(jobs))) as pool:
            return list(pool.map(self.deliver, jobs))

    def deliver(self, job: Job) -> str:
        """One attempt; the task's new status (Success, Error, Stopped, or Running if retried)."""
        policy = self.webhooks.get(job.project.name, job.policy_id)
        now = self.clock()
        first_at = job.first_at or now
        if policy is None or not policy.enabled or not 0 < job.task <= len(policy.targets):
            self._record(job, {"status": "Stopped", "run_count": job.attempt - 1, "end_time": now,
                               "status_message": "the policy was disabled or deleted"})
            return "Stopped"
        target = policy.targets[job.task - 1]
        headers, body = request_for(job.event, job.project, job.policy_id, target, self.registry_host,
                                    attempt=job.attempt, now=now)
        self._record(job, {"status": "Running", "run_count": job.attempt, "start_time": first_at})
        outcome: Outcome = self.sender.post(target.address, headers, body, verify_tls=not target.skip_cert_verify)
        state = {
            "run_count": job.attempt,
            "start_time": first_at,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
            "last_attempt_time": now,
        }
        if outcome.ok:
            self._record(job, {**state, "status": "Success", "status_message": "", "end_time": self.clock()})
            return "Success"
        delay = self.retry.next_delay(job.attempt, first_at, now, self.rand) if outcome.retryable else None
        if delay is not None:
            again = Job(job.project, job.policy_id, job.execution_id, job.task, job.event, job.attempt + 1, first_at)
            self.queue.send([again], delay)
            self._record(job, {**state, "status": "Running", "status_message": f"{outcome.error}; retry in {delay} s"})
            return "Running"
        why = outcome.error if outcome.retryable else f"{outcome.error} (not retried)"
        self._record(job, {**state, "status": "Error", "status_message": why, "end_time": self.clock()})
        logger.warning("webhook delivery failed", extra={"event_id": job.event.id, "policy_id": job.policy_id,
                                                         "status_code": outcome.status_code, "attempts": job.attempt})
        return "Error"

    def _record(self, job: Job, state: dict[str, Any]) -> None:
        self.webhooks.record_task(job.project.name, job.policy_id, job.execution_id, job.task, state)


def jobs_from_queue(sqs_event: dict[str, Any]) -> list[Job]:
    jobs = []
    for record in sqs_event.get("Records") or []:
        try:
            jobs.append(Job.from_message(record["body"]))
        except (KeyError, TypeError, ValueError, NotAnEvent):  # never readable: dropped, not retried
            logger.exception("unreadable webhook job", extra={"message_id": str(record.get("messageId", ""))[:100]})
    return jobs

"""Report failed Airflow task tries to medic.

Use as a task or DAG ``on_failure_callback``::

    from medic_callback import medic_failure_callback

    default_args = {"on_failure_callback": medic_failure_callback}

Configuration comes from the environment of the Airflow worker:

- ``MEDIC_URL``: medic's base URL, e.g. ``http://medic.internal:8080`` (required).
- ``MEDIC_WEBHOOK_SECRET``: the HMAC key set as ``ingest.webhook.secret`` in medic.
- ``MEDIC_INSTANCE``: the Airflow instance's name in medic's config (optional).
- ``MEDIC_TIMEOUT``: seconds to wait for medic (default 2).

The callback is fire-and-forget: it never raises and never waits longer than the
timeout, so medic being down or slow can never fail or hold up a pipeline. Only
the standard library is used; the module works on Airflow 2.x and 3.x.
"""

import hashlib
import hmac
import json
import logging
import os
import urllib.request

log = logging.getLogger(__name__)

MAX_EXCEPTION_CHARS = 8000


def _iso(value):
    if value is None:
        return None
    try:
        return value.isoformat()
    except AttributeError:
        return str(value)


def build_payload(context):
    """Build the JSON payload of POST /api/v1/events from a callback context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    exception = context.get("exception")
    task = getattr(ti, "task", None)
    payload = {
        "dag_id": getattr(ti, "dag_id", None),
        "run_id": context.get("run_id") or getattr(dag_run, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "try_number": getattr(ti, "try_number", None),
        "map_index": getattr(ti, "map_index", -1),
        "logical_date": _iso(context.get("logical_date") or context.get("execution_date")),
        "exception": "" if exception is None else str(exception)[:MAX_EXCEPTION_CHARS],
        "log_url": getattr(ti, "log_url", "") or "",
        "owner": getattr(task, "owner", "") or "",
        "state": str(getattr(ti, "state", "") or "failed"),
    }
    if payload["state"] not in ("failed", "up_for_retry", "upstream_failed"):
        payload["state"] = "failed"
    dag = getattr(task, "dag", None) or context.get("dag")
    tags = getattr(dag, "tags", None)
    if tags:
        payload["tags"] = sorted(str(t) for t in tags)
    instance = os.environ.get("MEDIC_INSTANCE")
    if instance:
        payload["instance"] = instance
    return payload


def sign(secret, body):
    """Return the X-Medic-Signature header value for body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(payload, url=None, secret=None, timeout=None):
    """POST payload to medic. Returns the HTTP status, or None on any failure."""
    url = url or os.environ.get("MEDIC_URL")
    if not url:
        log.warning("medic: MEDIC_URL is not set; failure not reported")
        return None
    secret = secret if secret is not None else os.environ.get("MEDIC_WEBHOOK_SECRET", "")
    timeout = float(timeout or os.environ.get("MEDIC_TIMEOUT", "2"))
    body = json.dumps(payload).encode()
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/events", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    if secret:
        req.add_header("X-Medic-Signature", sign(secret, body))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status
    except Exception as exc:  # noqa: BLE001 - never fail the pipeline
        status = getattr(exc, "code", None)
        log.warning("medic: failure report not accepted: %s", exc)
        return status


def medic_failure_callback(context):
    """on_failure_callback that reports the failed try to medic."""
    try:
        send(build_payload(context))
    except Exception as exc:  # noqa: BLE001 - never fail the pipeline
        log.warning("medic: could not report failure: %s", exc)

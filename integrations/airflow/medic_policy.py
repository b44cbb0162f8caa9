"""Let medic's ``retry_with_more_resources`` action move a retry to another pool or queue.

Airflow's clear endpoint cannot change a task instance's pool, queue or
executor_config, so before clearing medic writes the override into the Airflow
Variable ``medic_resources.<dag_id>.<task_id>``, whose value is JSON::

    {"pool": "big_pool", "queue": "highmem",
     "executor_config": {"KubernetesExecutor": {"request_memory": "8Gi"}}}

Every key is optional. This cluster policy applies it. Put it in
``airflow_local_settings.py`` (on the scheduler, and on Airflow 2 on the
workers too)::

    from medic_policy import task_instance_mutation_hook

or, if you already have a hook, call ``apply_medic_resources(task_instance)``
from it.

Whether Airflow calls the hook for the try that follows a *manual clear*
depends on the Airflow version: older 2.x releases only call it when the run's
task instances are created (apache/airflow#20143; see also #19536), 2.9 calls
it more consistently (#38440), and natural retries are only covered once
apache/airflow#65932 is released. So medic never trusts that the override was
applied: after the clear it reads the new try's pool and queue back through the
REST API and escalates to a human when they are unchanged.

The hook never raises (a broken Variable logs a warning and changes nothing)
and is idempotent: running it twice on the same task instance gives the same
result. Only the standard library and Airflow itself are used; the module
works on Airflow 2.x and 3.x.
"""

import json
import logging

log = logging.getLogger(__name__)

VARIABLE_PREFIX = "medic_resources."


def variable_key(dag_id, task_id):
    """Return the name of the Variable holding a task's override."""
    return "%s%s.%s" % (VARIABLE_PREFIX, dag_id, task_id)


def _get_variable(key):
    """Return the Variable's raw value, or None when it does not exist."""
    try:
        from airflow.models import Variable  # Airflow 2.x, and 3.x's scheduler

        return Variable.get(key, default_var=None)
    except ImportError:
        pass
    from airflow.sdk import Variable  # Airflow 3.x's task SDK

    return Variable.get(key, default=None)


def _parse(key, raw):
    """Decode the override; None (with a warning) when it is malformed."""
    if isinstance(raw, dict):  # a backend that already deserialized it
        return raw
    try:
        conf = json.loads(raw)
    except (TypeError, ValueError) as err:
        log.warning("medic policy: Variable %s is not valid JSON (%s); resources left unchanged", key, err)
        return None
    if not isinstance(conf, dict):
        log.warning("medic policy: Variable %s is not a JSON object; resources left unchanged", key)
        return None
    return conf


def apply_medic_resources(task_instance):
    """Apply the override medic configured for this task instance, if any.

    Returns the names of the fields that were changed (empty when nothing
    changed). Never raises.
    """
    changed = []
    try:
        key = variable_key(task_instance.dag_id, task_instance.task_id)
        try:
            raw = _get_variable(key)
        except Exception as err:  # noqa: BLE001 - a policy must never break scheduling
            log.warning("medic policy: cannot read Variable %s (%s); resources left unchanged", key, err)
            return changed
        if raw is None:
            return changed
        conf = _parse(key, raw)
        if conf is None:
            return changed

        for field in ("pool", "queue"):
            value = conf.get(field)
            if value is None:
                continue
            if not isinstance(value, str) or not value:
                log.warning("medic policy: Variable %s: %s must be a non-empty string; ignored", key, field)
                continue
            if getattr(task_instance, field, None) != value:
                setattr(task_instance, field, value)
                changed.append(field)

        executor_config = conf.get("executor_config")
        if executor_config is not None:
            if not isinstance(executor_config, dict):
                log.warning("medic policy: Variable %s: executor_config must be an object; ignored", key)
            else:
                current = getattr(task_instance, "executor_config", None)
                # A shallow merge keeps what the task set for other executors
                # (or a pod_override) and is the same however often it runs.
                merged = dict(current) if isinstance(current, dict) else {}
                merged.update(executor_config)
                if merged != current:
                    task_instance.executor_config = merged
                    changed.append("executor_config")

        if changed:
            log.info(
                "medic policy: %s.%s try %s: applied %s from Variable %s",
                task_instance.dag_id,
                task_instance.task_id,
                getattr(task_instance, "try_number", "?"),
                ", ".join(changed),
                key,
            )
    except Exception as err:  # noqa: BLE001 - a policy must never break scheduling
        log.warning("medic policy: unexpected error, resources left unchanged: %s", err)
    return changed


def task_instance_mutation_hook(task_instance):
    """Airflow cluster policy: see the module docstring."""
    apply_medic_resources(task_instance)

"""Tests for medic_policy.py without Airflow: a fake Variable is installed in sys.modules.

Run from this directory with ``python3 -m unittest``.
"""

import json
import os
import sys
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import medic_policy  # noqa: E402

KEY = "medic_resources.orders_etl.load"
OVERRIDE = {
    "pool": "big_pool",
    "queue": "highmem",
    "executor_config": {"KubernetesExecutor": {"request_memory": "8Gi"}},
}


class FakeTI:
    def __init__(self, **kw):
        self.dag_id = "orders_etl"
        self.task_id = "load"
        self.try_number = 3
        self.pool = "default_pool"
        self.queue = "default"
        self.executor_config = {}
        self.__dict__.update(kw)


def _variable_class(store, keyword, error=None):
    """Build a Variable class whose get() takes the given default keyword."""

    class Variable:
        calls = []

        @classmethod
        def get(cls, key, **kw):
            cls.calls.append((key, kw))
            if set(kw) != {keyword}:
                raise TypeError("unexpected keyword %s" % sorted(kw))
            if error is not None:
                raise error
            return store.get(key, kw[keyword])

    return Variable


class PolicyTest(unittest.TestCase):
    def setUp(self):
        self.store = {}
        self._saved = {name: sys.modules.get(name) for name in ("airflow", "airflow.models", "airflow.sdk")}
        self.install(airflow2=True)

    def tearDown(self):
        for name, mod in self._saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod

    def install(self, airflow2=True, error=None):
        """Install airflow.models.Variable (2.x), or only airflow.sdk.Variable (3.x task SDK)."""
        airflow = types.ModuleType("airflow")
        models = types.ModuleType("airflow.models")
        sdk = types.ModuleType("airflow.sdk")
        if airflow2:
            models.Variable = _variable_class(self.store, "default_var", error)
            self.variable = models.Variable
        else:
            sdk.Variable = _variable_class(self.store, "default", error)
            self.variable = sdk.Variable
        airflow.models, airflow.sdk = models, sdk
        sys.modules.update({"airflow": airflow, "airflow.models": models, "airflow.sdk": sdk})

    def test_variable_name(self):
        self.assertEqual(KEY, medic_policy.variable_key("orders_etl", "load"))
        self.assertEqual("medic_resources.dag.group.task", medic_policy.variable_key("dag", "group.task"))

    def test_applies_pool_queue_and_executor_config(self):
        self.store[KEY] = json.dumps(OVERRIDE)
        ti = FakeTI(executor_config={"pod_override": "keep-me"})
        medic_policy.task_instance_mutation_hook(ti)
        self.assertEqual("big_pool", ti.pool)
        self.assertEqual("highmem", ti.queue)
        self.assertEqual(
            {"pod_override": "keep-me", "KubernetesExecutor": {"request_memory": "8Gi"}}, ti.executor_config
        )
        self.assertEqual([(KEY, {"default_var": None})], self.variable.calls)

    def test_airflow3_sdk_variable(self):
        self.install(airflow2=False)
        self.store[KEY] = json.dumps({"queue": "highmem"})
        ti = FakeTI()
        self.assertEqual(["queue"], medic_policy.apply_medic_resources(ti))
        self.assertEqual("highmem", ti.queue)
        self.assertEqual("default_pool", ti.pool)
        self.assertEqual([(KEY, {"default": None})], self.variable.calls)

    def test_idempotent(self):
        self.store[KEY] = json.dumps(OVERRIDE)
        ti = FakeTI()
        first = medic_policy.apply_medic_resources(ti)
        snapshot = (ti.pool, ti.queue, dict(ti.executor_config))
        second = medic_policy.apply_medic_resources(ti)
        self.assertEqual(["pool", "queue", "executor_config"], first)
        self.assertEqual([], second)
        self.assertEqual(snapshot, (ti.pool, ti.queue, ti.executor_config))

    def test_no_variable_changes_nothing(self):
        ti = FakeTI()
        self.assertEqual([], medic_policy.apply_medic_resources(ti))
        self.assertEqual(("default_pool", "default", {}), (ti.pool, ti.queue, ti.executor_config))

    def test_bad_json_warns_and_changes_nothing(self):
        for raw in ('{"pool": ', "[1, 2]", "null-ish"):
            with self.subTest(raw=raw):
                self.store[KEY] = raw
                ti = FakeTI()
                with self.assertLogs(medic_policy.log, level="WARNING") as logs:
                    medic_policy.task_instance_mutation_hook(ti)
                self.assertIn(KEY, logs.output[0])
                self.assertEqual(("default_pool", "default"), (ti.pool, ti.queue))

    def test_wrong_field_types_are_skipped(self):
        self.store[KEY] = json.dumps({"pool": 7, "queue": "", "executor_config": "big", "extra": 1})
        ti = FakeTI()
        with self.assertLogs(medic_policy.log, level="WARNING") as logs:
            self.assertEqual([], medic_policy.apply_medic_resources(ti))
        self.assertEqual(3, len(logs.output))
        self.assertEqual(("default_pool", "default", {}), (ti.pool, ti.queue, ti.executor_config))

    def test_variable_backend_failure_never_raises(self):
        self.install(error=RuntimeError("database is locked"))
        ti = FakeTI()
        with self.assertLogs(medic_policy.log, level="WARNING"):
            medic_policy.task_instance_mutation_hook(ti)
        self.assertEqual("default_pool", ti.pool)

    def test_no_airflow_never_raises(self):
        for name in ("airflow", "airflow.models", "airflow.sdk"):
            sys.modules[name] = None  # makes the import fail
        with self.assertLogs(medic_policy.log, level="WARNING"):
            medic_policy.task_instance_mutation_hook(FakeTI())

    def test_broken_task_instance_never_raises(self):
        with self.assertLogs(medic_policy.log, level="WARNING"):
            medic_policy.task_instance_mutation_hook(object())


if __name__ == "__main__":
    unittest.main()

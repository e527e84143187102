"""Unit tests of bench_report.py: the targets and the rendering (run with /usr/bin/python3)."""
import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report  # noqa: E402


def latency(p50, p99=None):
    p99 = p50 if p99 is None else p99
    return {"count": 10, "mean_us": p50, "p50_us": p50, "p95_us": p99, "p99_us": p99,
            "max_us": p99}


def scenario(name, lps, services=None, redis=None):
    return {"scenario": name, "window_s": 10.0, "logins": int(lps * 10), "failed": 0,
            "logins_per_s": lps, "latency": latency(50000),
            "steps": {"StartLogin": latency(900), "SubmitPassword": latency(30000)},
            "errors": {}, "concurrency": 4, "users": 10,
            "services": services or {"credential": {"cpu_s": 1, "cpu_ms_per_login": 20.0,
                                                    "rss_kib": 1024, "peak_rss_kib": 2048},
                                     "orchestrator": {"cpu_s": 1, "cpu_ms_per_login": 2.0,
                                                      "rss_kib": 1024, "peak_rss_kib": 2048}},
            "cluster_cpu_ms_per_login": 22.0, "redis": redis, "grpc_calls_per_login": None,
            "grpc_calls_per_login_by_method": {}}


def result():
    floors = {"argon2_memory_kib": 19456, "argon2_iterations": 2, "argon2_parallelism": 1,
              "argon2_verify_ms_1t": 20.0, "argon2_verifies_per_s_1t": 50.0,
              "argon2_verifies_per_s_nt": 100.0, "argon2_verify_ms_nt": 20.0, "threads": 2,
              "grpc_echo_p50_us_sync": 100.0, "grpc_echo_p99_us_sync": 200.0,
              "grpc_echo_calls_sync": 2000, "grpc_echo_capacity_per_s": 20000.0,
              "grpc_echo_cpu_us_per_call": 80.0, "grpc_echo_capacity_concurrency": 16,
              "grpc_echo_capacity_calls": 60000, "redis_measured": True,
              "redis_rtt_p50_us": 40.0, "redis_rtt_p99_us": 90.0, "redis_samples": 2000,
              "redis_cpu_us_per_round_trip": 30.0, "cpus": 2}
    return {
        "parameters": {"concurrency": 16, "password_concurrency": 4, "duration_s": 20.0,
                       "count": 0, "warmup_s": 3.0, "users_per_pool": 100,
                       "orchestrator_connections": 4,
                       "argon2": {"memory_kib": 19456, "iterations": 2, "parallelism": 1},
                       "scenarios": ["password", "passkey"], "overload_scenario": "password"},
        "setup_s": 12.0,
        "probes": {
            "hops": [
                # 300 µs with 2 round trips at 50 µs: 200 µs beyond them, 2 × its echo of 100.
                {"rpc": "orchestrator LoginService.GetLogin", "postgres": False, "p50_us": 300.0,
                 "p99_us": 600.0, "calls": 200, "errors": 0, "last_error": "",
                 "echo_p50_us": 100.0, "redis_p50_us": 50.0,
                 "redis": {"redis_round_trips": 2, "redis_commands": {"evalsha": 2}}},
                # Not interleaved: the floors' echo (100) and PING (40): (160 - 40) / 100.
                {"rpc": "otp OtpService.VerifyCode (unknown challenge)", "postgres": False,
                 "p50_us": 160.0, "p99_us": 300.0, "calls": 200, "errors": 0, "last_error": "",
                 "echo_p50_us": None, "redis_p50_us": None,
                 "redis": {"redis_round_trips": 1, "redis_commands": {"evalsha": 1}}},
                {"rpc": "policy PolicyService.Evaluate", "postgres": True, "p50_us": 900.0,
                 "p99_us": 1500.0, "calls": 200, "errors": 0, "last_error": "",
                 "echo_p50_us": 100.0, "redis_p50_us": 50.0, "redis": None},
            ],
            "redis_round_trips_per_step": {
                "password": {"StartLogin": {"redis_round_trips": 1,
                                            "redis_commands": {"evalsha": 1}}}},
            "otp_verify": {"cost": {"redis_round_trips": 1, "redis_commands": {"evalsha": 1}},
                           "samples": 7},
        },
        "floors_before": floors, "floors_after": floors, "floors": floors,
        "scenarios": [scenario("password", 90.0, redis={"round_trips_per_login": 4.0,
                                                        "commands_per_login": {}}),
                      scenario("passkey", 300.0)],
        "overload": {
            "run": dict(scenario("password", 45.0), latency=latency(30000, 100000)),
            "offered_rate": 180.0, "offered": 1800, "generator_saturated": 0, "no_free_user": 0,
            "max_in_flight": 512, "resource_exhausted": 1000,
            "refused_latency": latency(5000, 10000),
            "memory": {"credential": {"rss_before_kib": 1000, "rss_after_kib": 1050,
                                      "rss_max_during_kib": 1100, "peak_rss_kib": 1100},
                       "orchestrator": {"rss_before_kib": 1000, "rss_after_kib": 1300,
                                        "rss_max_during_kib": 1300, "peak_rss_kib": 1300},
                       "redis": {"rss_before_kib": 1000, "rss_after_kib": 9000,
                                 "rss_max_during_kib": 9000, "peak_rss_kib": 9000}},
        },
        "otp_endpoint": None,
    }


class TargetsTest(unittest.TestCase):
    def test_each_target_against_the_floors_of_the_same_run(self):
        t = {x["name"].split(" (")[0].split(":")[0]: x for x in bench_report.targets(result())}
        password = t["password logins/s vs Argon2id verifies/s"]
        self.assertAlmostEqual(password["value"], 0.9)
        self.assertTrue(password["met"])
        self.assertAlmostEqual(password["margin_pct"], (0.9 - 0.85) / 0.85 * 100)
        passkey = t["passkey logins/s"]
        self.assertFalse(passkey["met"])
        self.assertAlmostEqual(passkey["margin_pct"], -80.0)
        self.assertTrue(t["Redis round trips per OTP verify"]["met"])

        hops = {x["name"]: x for x in bench_report.targets(result()) if x["name"].startswith("hop")}
        get_login = hops["hop orchestrator LoginService.GetLogin: p50 minus its Redis round trips, "
                         "/ echo p50"]
        self.assertAlmostEqual(get_login["value"], 2.0)
        self.assertFalse(get_login["met"])
        verify = hops["hop otp OtpService.VerifyCode (unknown challenge): p50 minus its Redis "
                      "round trips, / echo p50"]
        self.assertAlmostEqual(verify["value"], 1.2)
        self.assertTrue(verify["met"])
        # A probe that reads PostgreSQL has no hop target.
        self.assertEqual(len(hops), 2)

    def test_overload_targets(self):
        t = {x["name"]: x for x in bench_report.targets(result()) if x["name"].startswith("overload")}
        p99 = t["overload: admitted logins' p99 / one Argon2id verify"]
        self.assertAlmostEqual(p99["value"], 5.0)  # 100 ms / 20 ms
        self.assertFalse(p99["met"])
        share = t["overload: excess answered RESOURCE_EXHAUSTED (share of offered-minus-admitted)"]
        self.assertAlmostEqual(share["value"], 1000 / (1800 - 450))
        self.assertFalse(share["met"])
        refusal = t["overload: RESOURCE_EXHAUSTED answer p99 / one Argon2id verify"]
        self.assertAlmostEqual(refusal["value"], 0.5)
        self.assertTrue(refusal["met"])
        # Redis's growth (login records kept for their TTL) is not the services' memory.
        growth = t["overload: RSS growth of the Tally services after the run (worst: orchestrator)"]
        self.assertAlmostEqual(growth["value"], 0.3)
        self.assertFalse(growth["met"])

    def test_no_floors_no_targets(self):
        r = result()
        r["floors"] = None
        self.assertEqual(bench_report.targets(r), [])


class RenderTest(unittest.TestCase):
    def render(self, r, *extra):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "loadgen.json")
            with open(path, "w") as f:
                json.dump(r, f)
            out = io.StringIO()
            argv = sys.argv
            sys.argv = ["bench_report.py", "--loadgen", path, *extra]
            try:
                with contextlib.redirect_stdout(out):
                    self.assertEqual(bench_report.main(), 0)
            finally:
                sys.argv = argv
            return out.getvalue()

    def test_every_section_of_benchmarks_md(self):
        doc = self.render(result())
        for heading in ("# Tally benchmarks", "## Machine", "## Parameters", "## Targets",
                        "### The targets as CPU budgets", "## Floors", "## Logins", "### Per step",
                        "### CPU and memory per service", "### On a Redis Cluster",
                        "## Single RPCs and Redis round trips",
                        "## Overload", "## Micro-benchmarks (Google Benchmark)",
                        "## Where the time goes", "## Reproduce"):
            self.assertIn("\n" + heading + "\n", "\n" + doc)
        self.assertIn("| password logins/s vs Argon2id verifies/s (2 threads) | >= 0.85 x raw "
                      "Argon2id rate | 0.900 ratio | **met** | +6% |", doc)
        self.assertIn("**1 Redis round trip(s)**", doc)
        self.assertIn("**450 admitted**", doc)

    def test_the_redis_cluster_row_beside_one_redis(self):
        cluster = {"scenarios": [scenario("password", 81.0, redis={"round_trips_per_login": 5.0,
                                                                    "commands_per_login": {}}),
                                 scenario("passkey", 240.0)]}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "cluster.json")
            with open(path, "w") as f:
                json.dump(cluster, f)
            doc = self.render(result(), "--redis_cluster_loadgen", path)
        self.assertIn("| password | 90.0 | 81.0 | 0.90 | 50.0 ms | 50.0 ms | 50.0 ms | 50.0 ms "
                      "| 0 | 5.0 |", doc)
        self.assertIn("| passkey | 300.0 | 240.0 | 0.80 |", doc)
        self.assertIn("Not measured in this run", self.render(result()))

    def test_a_run_without_floors_overload_or_redis(self):
        r = result()
        for key in ("floors", "floors_before", "floors_after", "overload"):
            r[key] = None
        r["probes"] = {"hops": [], "redis_round_trips_per_step": {}, "otp_verify": None}
        doc = self.render(r)
        self.assertIn("_No floors were measured, so no target could be checked._", doc)
        self.assertIn("## Overload\n\n_Not run._", doc)


if __name__ == "__main__":
    unittest.main()

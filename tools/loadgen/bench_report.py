#!/usr/bin/python3
"""The bench's one report writer: checks issue #8's targets and writes BENCHMARKS.md.

Inputs: the load generator's result (tools/loadgen/result.h as JSON: scenarios, floors, probes,
overload), the Google Benchmark JSON files of build/bin/*_benchmark, facts about the machine
and the run, and tools/loadgen/analysis.md (the hand-written profile notes: where the time goes).
The targets live here, not in tally-loadgen, because one of them (the CPU estimate) needs the
micro-benchmarks, which `tools/dev bench` runs after the load generator has exited, on an idle
machine. Without --out the report goes to the standard output:

    build/bin/tally-loadgen ... --output=/tmp/run.json
    tools/loadgen/bench_report.py --loadgen /tmp/run.json

Only the Python standard library is used.
"""

import argparse
import glob
import json
import os
import sys


def us(v):
    if v is None:
        return "-"
    v = float(v)
    if v >= 10000:
        return f"{v / 1000:.1f} ms"
    if v >= 1000:
        return f"{v / 1000:.2f} ms"
    return f"{v:.0f} µs"


def num(v, fmt="{:.2f}"):
    if v is None:
        return "-"
    return fmt.format(v)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def machine_section(m):
    rows = [
        ("CPU", m.get("cpu_model", "?")),
        ("logical CPUs", m.get("cpus", "?")),
        ("RAM", m.get("memory", "?")),
        ("kernel", m.get("kernel", "?")),
        ("OS", m.get("os", "?")),
        ("build type", m.get("build_type", "?")),
        ("compiler", m.get("compiler", "?")),
        ("commit", m.get("commit", "?")),
        ("date (UTC)", m.get("date", "?")),
        ("load average before / after", f"{m.get('load_before', '?')} / {m.get('load_after', '?')}"),
    ]
    return table(["", ""], rows)


def argon2_cpu_ms(bench_dir):
    """CPU time of one Argon2id verify at the default parameters, from the micro-benchmark."""
    if not bench_dir:
        return None
    try:
        with open(os.path.join(bench_dir, "password_hasher_benchmark.json")) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    for b in data.get("benchmarks", []):
        if b["name"].startswith("BM_VerifyAtDefaultParameters") and b.get("time_unit") == "ms":
            return b["cpu_time"]
    return None


def cpu_ratio_rows(r, bench_dir):
    """The 0.85 target estimated in CPU time. On dedicated cores logins/s ÷ verifies/s =
    CPU per verify ÷ CPU per login. The hash's CPU cost itself swings with contention (Argon2id is
    memory-bound), so the estimate is H ÷ (H + X): H one verify's CPU (the micro-benchmark, this
    run), X the CPU per login of every watched process except the credential service. The
    credential service's own work beyond the hash is left out, so this is an upper bound."""
    hash_ms = argon2_cpu_ms(bench_dir)
    rows = []
    if not hash_ms:
        return rows
    for s in r.get("scenarios", []):
        if s["scenario"] not in ("password", "password+sms", "password+email"):
            continue
        services = s.get("services", {})
        if "credential" not in services:
            continue
        other = sum(v.get("cpu_ms_per_login", 0) for k, v in services.items() if k != "credential")
        ratio = hash_ms / (hash_ms + other)
        rows.append((f"{s['scenario']}, CPU estimate (upper bound): verify {hash_ms:.1f} ms ÷ "
                     f"(verify + {other:.1f} ms per login outside the credential service)",
                     ">= 0.85", f"{ratio:.3f} ratio", "**met**" if ratio >= 0.85 else "**missed**",
                     f"{(ratio / 0.85 - 1) * 100:+.0f}%"))
    return rows


def floors(r):
    return r.get("floors") or {}


def targets(r):
    """Issue #8's targets, each with the measured value, met or missed and by how much. The
    logins/s ratios divide by the floors measured in the same run (wall clock)."""
    out = []
    f = floors(r)
    if not f:
        return out

    def add(name, goal_text, value, goal, at_least, unit):
        met = value >= goal if at_least else value <= goal
        out.append({"name": name, "target": goal_text, "value": value, "goal": goal,
                    "unit": unit, "met": met,
                    "margin_pct": (value - goal) / goal * 100.0 if goal else 0.0})

    argon_nt = f.get("argon2_verifies_per_s_nt") or 0
    hash_ms = f.get("argon2_verify_ms_1t") or 0
    for s in r.get("scenarios", []):
        name, lps = s["scenario"], s.get("logins_per_s", 0)
        if name in ("password", "password+sms", "password+email") and argon_nt > 0:
            add(f"{name} logins/s vs Argon2id verifies/s ({f.get('threads')} threads)",
                ">= 0.85 x raw Argon2id rate", lps / argon_nt, 0.85, True, "ratio")
        if name == "passkey":
            add("passkey logins/s", ">= 1500 logins/s", lps, 1500, True, "logins/s")
    probes = r.get("probes") or {}
    verify = probes.get("otp_verify")
    if verify:
        rt = verify["cost"]["redis_round_trips"]
        out.append({"name": "Redis round trips per OTP verify (OtpService.VerifyCode)",
                    "target": "exactly 1", "value": rt, "goal": 1, "unit": "round trips",
                    "met": rt == 1, "margin_pct": (rt - 1) * 100.0})
    for p in probes.get("hops", []):
        if p.get("postgres") or not p.get("redis"):
            continue
        # The echo and PING interleaved with the probe's calls when measured, else the floors.
        hop_echo = p.get("echo_p50_us") or f.get("grpc_echo_p50_us_sync") or 0
        hop_redis = p.get("redis_p50_us") or f.get("redis_rtt_p50_us") or 0
        if hop_echo <= 0:
            continue
        added = p["p50_us"] - p["redis"]["redis_round_trips"] * hop_redis
        add(f"hop {p['rpc']}: p50 minus its Redis round trips, / echo p50",
            "<= 1.5 x bare echo p50", added / hop_echo, 1.5, False, "x echo p50")
    o = r.get("overload")
    if o and hash_ms > 0:
        run = o["run"]
        add("overload: admitted logins' p99 / one Argon2id verify", "<= 4 x one hash time",
            run["latency"]["p99_us"] / 1000.0 / hash_ms, 4, False, "x hash time")
        refused = o["resource_exhausted"]
        excess = max(0, o["offered"] - run["logins"])
        add("overload: excess answered RESOURCE_EXHAUSTED (share of offered-minus-admitted)",
            ">= 0.9 of the excess", refused / excess if excess > 0 else 1.0, 0.9, True, "share")
        if refused > 0:
            add("overload: RESOURCE_EXHAUSTED answer p99 / one Argon2id verify",
                "<= 1 x one hash time (quickly)",
                o["refused_latency"]["p99_us"] / 1000.0 / hash_ms, 1, False, "x hash time")
        worst_growth, worst = 0.0, ""
        for svc, m in o.get("memory", {}).items():
            # The Tally services only. Redis keeps every started login for its TTL (10 minutes),
            # so its data grows with the logins offered and is bounded by the TTL, not by a
            # queue; the memory table shows it.
            if svc in ("loadgen", "redis"):
                continue
            before, after = m["rss_before_kib"], m["rss_after_kib"]
            if before > 0 and (after - before) / before > worst_growth:
                worst_growth, worst = (after - before) / before, svc
        add(f"overload: RSS growth of the Tally services after the run (worst: {worst or '-'})",
            "flat: <= 10% growth", worst_growth, 0.10, False, "fraction")
    return out


def targets_section(r, bench_dir):
    rows = []
    for t in targets(r):
        unit = t.get("unit", "")
        value = t.get("value")
        shown = num(value, "{:.3f}") if unit not in ("logins/s", "round trips") else num(value, "{:.1f}")
        margin = t.get("margin_pct", 0.0)
        verdict = "**met**" if t.get("met") else "**missed**"
        rows.append((t.get("name", ""), t.get("target", ""), f"{shown} {unit}", verdict,
                     f"{margin:+.0f}%"))
    rows += cpu_ratio_rows(r, bench_dir)
    if not rows:
        return "_No floors were measured, so no target could be checked._"
    return ("The logins/s ratios divide by the Argon2id rate the floors measured in the same run "
            "(wall clock). On a machine shared with other work the floors and the scenarios see "
            "different shares of the cores, so the last rows estimate the same target in CPU "
            "time: one verify's CPU (`password_hasher_benchmark`, this run) against it plus the "
            "CPU every other watched process (orchestrator, policy, OTP, passkey, the load "
            "generator, and Redis and PostgreSQL when watched) spends per login. The credential "
            "service's work beyond the hash (user lookups, gRPC) is left out, so these are upper "
            "bounds.\n\n" +
            table(["target", "goal", "measured", "", "vs goal"], rows))


def floors_section(r):
    """The floors the ratios use (the better of two measurements) and both measurements."""
    best, before, after = floors(r), r.get("floors_before") or {}, r.get("floors_after") or {}

    def row(name, key, fmt):
        return (name, fmt(best.get(key)), fmt(before.get(key)), fmt(after.get(key)))

    rate = lambda v: num(v, "{:.1f}") + "/s" if v is not None else "-"
    ms = lambda v: num(v, "{:.1f}") + " ms" if v is not None else "-"
    rows = [
        row("Argon2id verify, 1 thread alone (m={} KiB, t={}, p={})".format(
            best.get("argon2_memory_kib"), best.get("argon2_iterations"),
            best.get("argon2_parallelism")), "argon2_verify_ms_1t", ms),
        row("Argon2id verifies/s, 1 thread", "argon2_verifies_per_s_1t", rate),
        row(f"Argon2id verifies/s, {best.get('threads')} threads at once (all cores)",
            "argon2_verifies_per_s_nt", rate),
        row("bare gRPC echo on loopback, sync API, p50", "grpc_echo_p50_us_sync", us),
        row("bare gRPC echo on loopback, sync API, p99", "grpc_echo_p99_us_sync", us),
        row(f"bare gRPC echo capacity, sync server, {best.get('grpc_echo_capacity_concurrency')} "
            "blocking callers (calls/s)", "grpc_echo_capacity_per_s",
            lambda v: num(v, "{:.0f}") + "/s" if v is not None else "-"),
        row("bare gRPC echo at capacity, sync server: CPU per call, both ends",
            "grpc_echo_cpu_us_per_call", us),
    ]
    rows += [
        row("Redis round trip (PING), p50", "redis_rtt_p50_us", us),
        row("Redis round trip (PING), p99", "redis_rtt_p99_us", us),
        row("Redis round trip (PING): CPU per round trip, client and server",
            "redis_cpu_us_per_round_trip", lambda v: us(v) if v else "-"),
    ]
    return ("Measured by `tools/floors` in the load generator's process before and after the "
            "scenarios; the ratios and targets use the better of the two (a floor measured while "
            "the machine was busy elsewhere would flatter us).\n\n" +
            table(["floor", "used", "before", "after"], rows))


def scenarios_section(r):
    f = floors(r)
    argon = f.get("argon2_verifies_per_s_nt")
    rows = []
    for s in r.get("scenarios", []):
        lat = s.get("latency", {})
        errors = sum(s.get("errors", {}).values())
        ratio = s["logins_per_s"] / argon if argon else None
        cpu = s.get("cluster_cpu_ms_per_login")
        rt = (s.get("redis") or {}).get("round_trips_per_login")
        rows.append((s["scenario"], num(s.get("logins_per_s"), "{:.1f}"), num(ratio, "{:.2f}"),
                     us(lat.get("p50_us")), us(lat.get("p95_us")), us(lat.get("p99_us")),
                     us(lat.get("max_us")), s.get("logins", 0), errors, num(cpu, "{:.2f}"),
                     num(s.get("grpc_calls_per_login"), "{:.1f}"), num(rt, "{:.1f}")))
    return table(["scenario", "logins/s", "÷ Argon2id/s (all cores)", "p50", "p95", "p99", "max",
                  "logins", "errors", "cluster CPU ms/login", "gRPC calls served/login",
                  "Redis round trips/login"], rows)


def redis_cluster_section(r, c):
    """The same scenarios on a Redis Cluster (three primaries, one replica each) and on one
    Redis, measured in the same run: logins/s and latency side by side."""
    if not c:
        return "Not measured in this run (`tools/dev bench` measures it unless `TALLY_BENCH_SKIP_CLUSTER` is set)."
    single = {s["scenario"]: s for s in r.get("scenarios", [])}
    rows = []
    for s in c.get("scenarios", []):
        one = single.get(s["scenario"])
        lat = s.get("latency", {})
        ratio = s["logins_per_s"] / one["logins_per_s"] if one and one.get("logins_per_s") else None
        rt = (s.get("redis") or {}).get("round_trips_per_login")
        rows.append((s["scenario"], num(one.get("logins_per_s") if one else None, "{:.1f}"),
                     num(s.get("logins_per_s"), "{:.1f}"), num(ratio, "{:.2f}"),
                     us((one or {}).get("latency", {}).get("p50_us")), us(lat.get("p50_us")),
                     us((one or {}).get("latency", {}).get("p99_us")), us(lat.get("p99_us")),
                     sum(s.get("errors", {}).values()), num(rt, "{:.1f}")))
    return table(["scenario", "one Redis logins/s", "Redis Cluster logins/s", "cluster ÷ one",
                  "p50 one", "p50 cluster", "p99 one", "p99 cluster", "errors (cluster)",
                  "Redis round trips/login (cluster)"], rows)


def budget_section(r, bench_dir):
    """Each throughput target as a CPU budget per login, beside what the run spent and what the
    login's gRPC calls alone would cost at the bare echo's CPU per call."""
    f = floors(r)
    echo_us = f.get("grpc_echo_cpu_us_per_call")
    redis_us = f.get("redis_cpu_us_per_round_trip") or 0
    cores = f.get("cpus") or f.get("threads")
    hash_ms = argon2_cpu_ms(bench_dir)
    rows = []
    for s in r.get("scenarios", []):
        name = s["scenario"]
        services = s.get("services", {})
        calls = s.get("grpc_calls_per_login")
        if name == "passkey" and cores:
            budget = cores * 1000.0 / 1500
            spent = sum(v.get("cpu_ms_per_login", 0) for v in services.values())
            what = f"all of a login's CPU: {cores} cores ÷ 1,500 logins/s"
        elif name in ("password", "password+sms", "password+email") and hash_ms:
            budget = hash_ms * (1 / 0.85 - 1)
            spent = sum(v.get("cpu_ms_per_login", 0) for k, v in services.items()
                        if k != "credential")
            what = f"the CPU beside one verify ({hash_ms:.1f} ms) for 0.85 × the Argon2id rate"
        else:
            continue
        round_trips = (s.get("redis") or {}).get("round_trips_per_login") or 0
        floor = (calls * echo_us + round_trips * redis_us) / 1000.0 \
            if calls is not None and echo_us else None
        rows.append((name, what, num(budget, "{:.2f}") + " ms", num(spent, "{:.2f}") + " ms",
                     num(spent / budget, "{:.1f}") + " ×", num(calls, "{:.1f}"),
                     num(round_trips, "{:.1f}"),
                     num(floor, "{:.2f}") + " ms" if floor is not None else "-",
                     num(floor / budget, "{:.2f}") + " ×" if floor is not None else "-"))
    if not rows:
        return "_Not measured in this run._"
    return ("The throughput targets as CPU per login on this machine's cores, which the load "
            "generator shares. _spent_ is what the watched processes (the load generator, Redis "
            "and PostgreSQL included; for the `password*` rows all but the credential service) "
            "spent per login in this run. The last columns price the gRPC calls the cluster "
            "served per login at the bare echo's CPU per call at capacity (client and server "
            "ends) and the Redis round trips at a PING's CPU "
            "(both ends; floors below): what the login's hops would cost if each were no dearer "
            "than an empty echo or PING, before any PostgreSQL, Lua, crypto or login work. "
            "For the `password*` rows that price includes the credential service's ends of its "
            "calls, which _spent_ leaves out with the hash: there the floor column errs high.\n\n" +
            table(["scenario", "budget per login", "budget", "spent", "spent ÷ budget",
                   "gRPC calls/login", "Redis round trips/login", "hops at the floors' CPU",
                   "÷ budget"], rows))


def steps_section(r):
    echo = floors(r).get("grpc_echo_p50_us_sync")
    out = []
    for s in r.get("scenarios", []):
        rows = []
        order = ["StartLogin", "SubmitPassword", "SendOtp", "CodeDelivery", "VerifyOtp",
                 "StartPasskey", "FinishPasskey"]
        steps = s.get("steps", {})
        for step in sorted(steps, key=lambda k: order.index(k) if k in order else len(order)):
            l = steps[step]
            rows.append((step, us(l.get("p50_us")), us(l.get("p95_us")), us(l.get("p99_us")),
                         us(l.get("max_us")), l.get("count", 0),
                         num(l["p50_us"] / echo if echo else None, "{:.1f}")))
        out.append(f"**{s['scenario']}** ({s.get('concurrency')} logins in flight, "
                   f"{s.get('users')} users)\n\n" +
                   table(["step", "p50", "p95", "p99", "max", "calls", "p50 ÷ echo p50"], rows))
        if s.get("errors"):
            out.append("Errors: " + ", ".join(f"`{k}` × {v}" for k, v in s["errors"].items()))
    return "\n\n".join(out)


def services_section(r):
    names = []
    for s in r.get("scenarios", []):
        for n in s.get("services", {}):
            if n not in names:
                names.append(n)
    rows = []
    for s in r.get("scenarios", []):
        svc = s.get("services", {})
        rows.append([s["scenario"]] + [num(svc.get(n, {}).get("cpu_ms_per_login"), "{:.3f}")
                                       for n in names])
    peak = ["peak RSS (MiB)"]
    for n in names:
        values = [s.get("services", {}).get(n, {}).get("peak_rss_kib", 0)
                  for s in r.get("scenarios", [])]
        peak.append(num(max(values) / 1024.0 if values else None, "{:.1f}"))
    rows.append(peak)
    return table(["CPU ms per login"] + names, rows)


def probes_section(r):
    p = r.get("probes") or {}
    echo = floors(r).get("grpc_echo_p50_us_sync")
    redis = floors(r).get("redis_rtt_p50_us") or 0
    out = []
    rows = []
    for h in p.get("hops", []):
        rt = (h.get("redis") or {}).get("redis_round_trips")
        # The echo and PING measured between the probe's own calls, else the floors.
        hop_echo = h.get("echo_p50_us") or echo
        hop_redis = h.get("redis_p50_us") or redis
        added = None
        if rt is not None and not h.get("postgres"):
            added = h["p50_us"] - rt * hop_redis
        rows.append((h["rpc"], us(h.get("p50_us")), us(h.get("p99_us")),
                     "-" if rt is None else rt, "yes" if h.get("postgres") else "no",
                     us(hop_echo), us(hop_redis),
                     us(added) if added is not None else "-",
                     num(added / hop_echo if added is not None and hop_echo else None, "{:.2f}")))
    if rows:
        out.append("Each probe's calls alternate with a bare echo (in the load generator) and a "
                   "Redis PING, so the hop, the echo and the PING are measured in the same "
                   "seconds; the ratio divides by those, not by the floors measured minutes "
                   "away.\n\n" +
                   table(["RPC (one at a time, idle cluster)", "p50", "p99", "Redis round trips",
                          "PostgreSQL", "echo p50 between", "PING p50 between",
                          "p50 − Redis round trips", "÷ echo p50"], rows))
    steps = p.get("redis_round_trips_per_step", {})
    if steps:
        rows = []
        for scenario, st in steps.items():
            for step, v in st.items():
                cmds = ", ".join(f"{k} {c}" for k, c in sorted(v.get("redis_commands", {}).items()))
                rows.append((scenario, step, v.get("redis_round_trips"), cmds))
        out.append("Redis round trips of each login step (one login at a time; commands include "
                   "those a Lua script issues):\n\n" +
                   table(["scenario", "step", "round trips", "commands"], rows))
    ov = p.get("otp_verify")
    if ov:
        cost = ov["cost"]
        cmds = ", ".join(f"{k} {c}" for k, c in sorted(cost.get("redis_commands", {}).items()))
        out.append(f"`OtpService.VerifyCode` with the right code, called directly: "
                   f"**{cost.get('redis_round_trips')} Redis round trip(s)** (commands: {cmds}).")
    return "\n\n".join(out)


def overload_section(r):
    o = r.get("overload")
    if not o:
        return "_Not run._"
    run = o["run"]
    lat = run.get("latency", {})
    ref = o.get("refused_latency", {})
    hash_ms = floors(r).get("argon2_verify_ms_1t")
    lines = [
        f"Open loop, scenario `{run['scenario']}`, offered **{o['offered_rate']:.1f} logins/s** "
        f"(twice the closed-loop rate) for {run['window_s']:.0f} s: {o['offered']} logins offered, "
        f"**{run['logins']} admitted** ({run['logins_per_s']:.1f}/s), "
        f"**{o['resource_exhausted']} answered RESOURCE_EXHAUSTED**; "
        f"{o.get('generator_saturated', 0)} not started because the generator had "
        f"{o.get('max_in_flight')} logins in flight.",
        "",
        table(["", "p50", "p95", "p99", "max", "count"], [
            ("admitted logins (from the scheduled start)", us(lat.get("p50_us")),
             us(lat.get("p95_us")), us(lat.get("p99_us")), us(lat.get("max_us")),
             lat.get("count", 0)),
            ("RESOURCE_EXHAUSTED answers", us(ref.get("p50_us")), us(ref.get("p95_us")),
             us(ref.get("p99_us")), us(ref.get("max_us")), ref.get("count", 0)),
        ]),
    ]
    if hash_ms:
        lines += ["", f"One Argon2id verify takes {hash_ms:.1f} ms alone, so the target is "
                      f"p99 ≤ {4 * hash_ms:.0f} ms."]
    if run.get("errors"):
        lines += ["", "Errors: " + ", ".join(f"`{k}` × {v}" for k, v in run["errors"].items())]
    rows = []
    for svc, m in o.get("memory", {}).items():
        rows.append((svc, num(m["rss_before_kib"] / 1024, "{:.1f}"),
                     num(m["rss_max_during_kib"] / 1024, "{:.1f}"),
                     num(m["rss_after_kib"] / 1024, "{:.1f}"),
                     num(m["peak_rss_kib"] / 1024, "{:.1f}")))
    lines += ["", table(["service", "RSS before (MiB)", "max during", "after", "peak (VmHWM)"],
                        rows)]
    return "\n".join(lines)


def benchmarks_section(directory):
    files = sorted(glob.glob(os.path.join(directory, "*.json"))) if directory else []
    if not files:
        return "_No micro-benchmarks ran._"
    out = []
    for path in files:
        name = os.path.basename(path)[:-5]
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            out.append(f"**{name}**: no result ({e})")
            continue
        rows = []
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate":
                continue
            unit = b.get("time_unit", "ns")
            extra = ""
            if "items_per_second" in b:
                extra = f"{b['items_per_second']:.0f} items/s"
            elif "bytes_per_second" in b:
                extra = f"{b['bytes_per_second'] / 1e6:.1f} MB/s"
            rows.append((b["name"], f"{b['real_time']:.1f} {unit}", f"{b['cpu_time']:.1f} {unit}",
                         b.get("iterations", ""), extra))
        out.append(f"**{name}**\n\n" + table(["benchmark", "time", "CPU", "iterations", ""], rows))
    return "\n\n".join(out)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def machine(a):
    """What the report says about the machine: from /proc and the arguments of the run."""
    cpuinfo = read("/proc/cpuinfo")
    model = next((l.split(":", 1)[1].strip() for l in cpuinfo.splitlines()
                  if l.startswith("model name")), "?")
    mem_kib = next((int(l.split()[1]) for l in read("/proc/meminfo").splitlines()
                    if l.startswith("MemTotal:")), 0)
    os_name = next((l.split("=", 1)[1].strip('"') for l in read("/etc/os-release").splitlines()
                    if l.startswith("PRETTY_NAME=")), "?")
    uname = os.uname()
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": f"{uname.sysname} {uname.release} {uname.machine}",
        "os": os_name,
        "build_type": a.build_type,
        "compiler": a.compiler,
        "commit": a.commit,
        "date": a.date,
        "load_before": a.load_before,
        "load_after": a.load_after,
        "note": a.note,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True, help="tally-loadgen's result (JSON)")
    ap.add_argument("--benchmarks", default="", help="directory of Google Benchmark JSON files")
    ap.add_argument("--build_type", default="?")
    ap.add_argument("--compiler", default="?")
    ap.add_argument("--commit", default="?")
    ap.add_argument("--date", default="?")
    ap.add_argument("--load_before", default="?")
    ap.add_argument("--load_after", default="?")
    ap.add_argument("--note", default="")
    ap.add_argument("--analysis", default="", help="the profile notes (analysis.md)")
    ap.add_argument("--cluster_flags", default="", help="the cluster's flags beyond the defaults")
    ap.add_argument("--redis_cluster_loadgen", default="",
                    help="tally-loadgen's result against the services on a Redis Cluster (JSON)")
    ap.add_argument("--out", default="", help="where to write the report; default: stdout")
    a = ap.parse_args()
    with open(a.loadgen) as f:
        r = json.load(f)
    rc = None
    if a.redis_cluster_loadgen:
        with open(a.redis_cluster_loadgen) as f:
            rc = json.load(f)
    m = machine(a)
    flags = read(a.cluster_flags).strip() if a.cluster_flags else "(not given)"
    analysis = read(a.analysis).strip() if a.analysis else ""
    params = r.get("parameters", {})

    doc = f"""# Tally benchmarks

Written by `tools/dev bench` (do not edit by hand: the profile notes come from
`tools/loadgen/analysis.md`). A Release build, throwaway Redis (no AOF) and PostgreSQL, the whole
cluster with production defaults, and `tally-loadgen` on **the same machine**, driving logins
through the orchestrator's gRPC API exactly as a login page would; OTP codes travel the real way
(the OTP sender's `http` provider POSTs each SMS and e-mail to the load generator's gateway
endpoint). Floors are measured in the same run. Targets are those of issue #8.

{m.get('note', '')}

## Machine

{machine_section(m)}

## Parameters

- Load generator: {params.get('concurrency')} logins in flight (closed loop; {params.get('password_concurrency')} for the `password*` scenarios: as many password checks as the credential service runs and queues by default, one of each per core; more would be refused `RESOURCE_EXHAUSTED`), {params.get('duration_s'):.0f} s measured per scenario after {params.get('warmup_s'):.0f} s warm-up, {params.get('users_per_pool')} users per scenario (each its own phone number and e-mail address), {params.get('orchestrator_connections')} HTTP/2 connections to the orchestrator.
- Argon2id: m = {params.get('argon2', {}).get('memory_kib')} KiB, t = {params.get('argon2', {}).get('iterations')}, p = {params.get('argon2', {}).get('parallelism')} (the credential service's defaults).
- Cluster flags beyond the defaults:

```
{flags}
```

## Targets

{targets_section(r, a.benchmarks)}

### The targets as CPU budgets

{budget_section(r, a.benchmarks)}

## Floors

{floors_section(r)}

## Logins

{scenarios_section(r)}

### Per step

{steps_section(r)}

### CPU and memory per service

CPU seconds per login from `/proc` (utime + stime) between the start and the end of each
scenario; `cluster CPU ms/login` above is their sum without the load generator. `postgres` is
the postmaster with all its backends (live and exited); its peak RSS is the postmaster's alone,
since the backends share most of their memory with it.

{services_section(r)}

### On a Redis Cluster

The same services again, on a local Redis Cluster of three primaries with one replica each
(`tools/dev redis-cluster-start`, every node on this machine) instead of one Redis, with the
production defaults of cluster mode: writes a failover must not undo (consumed passkey
challenges, lockout failures, revocations) wait for a replica (`--redis_min_replica_acks=1`).

{redis_cluster_section(r, rc)}

## Single RPCs and Redis round trips

{probes_section(r)}

## Overload

{overload_section(r)}

## Micro-benchmarks (Google Benchmark)

{benchmarks_section(a.benchmarks)}

## Where the time goes

{analysis}

## Reproduce

```sh
tools/dev bench              # about 10 minutes; rewrites BENCHMARKS.md
build/bin/tally-loadgen --help
```
"""
    if a.out:
        with open(a.out, "w") as f:
            f.write(doc)
    else:
        sys.stdout.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())

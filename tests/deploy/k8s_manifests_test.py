#!/usr/bin/python3
"""Checks deploy/k8s against the rules of the deploy issue and against the binaries themselves:
every TALLY_* variable and --flag the manifests set must be a flag the binary knows, every
Secret key the base reads must be produced by the dev overlay, and every Deployment must be
hardened, probed, drained and covered by a Service and a PodDisruptionBudget.
Run: k8s_manifests_test.py <repo root> <build/bin>. Needs Debian's python3-yaml."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT, BIN = sys.argv[1], sys.argv[2]
K8S = os.path.join(ROOT, "deploy/k8s")
failures = []


def fail(message):
    failures.append(message)


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# 1. Every file parses, and every kustomization names files that exist.
for path in glob.glob(f"{K8S}/**/*.yaml", recursive=True):
    try:
        load_all(path)
    except yaml.YAMLError as e:
        fail(f"{path}: {e}")
for path in glob.glob(f"{K8S}/**/kustomization.yaml", recursive=True):
    k = load_all(path)[0]
    here = os.path.dirname(path)
    for entry in (k.get("resources", []) + k.get("components", []) +
                  [p["path"] for p in k.get("patches", []) if "path" in p]):
        if not os.path.exists(os.path.join(here, entry)):
            fail(f"{path}: {entry} does not exist")

base = {}
for path in glob.glob(f"{K8S}/base/*.yaml"):
    if path.endswith("kustomization.yaml"):
        continue
    for doc in load_all(path):
        base.setdefault(doc["kind"], []).append(doc)
config = next(c for c in base["ConfigMap"] if c["metadata"]["name"] == "tally-config")["data"]


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)s", text)
    return int(m.group(1)) if m else None


# 2. Known flags of each binary, from --helpfull.
flags_of = {}


def flags(binary):
    if binary not in flags_of:
        out = subprocess.run([os.path.join(BIN, binary), "--helpfull"], capture_output=True,
                             text=True, timeout=60)
        flags_of[binary] = set(re.findall(r"^\s+--(\w+) ", out.stdout + out.stderr, re.M))
        if not flags_of[binary]:
            fail(f"{binary} --helpfull listed no flags")
    return flags_of[binary]


NOT_FLAGS = {"TALLY_GRPC_PORT"}  # read by the production probes, not by the binaries
deployments = {d["metadata"]["name"]: d for d in base["Deployment"]}
for name, d in deployments.items():
    spec = d["spec"]["template"]["spec"]
    c = spec["containers"][0]
    binary = os.path.basename(c["command"][0])
    known = flags(binary)
    env_names = [e["name"] for e in c.get("env", [])] + list(config.keys())
    for var in env_names:
        flag = var[len("TALLY_"):].lower()
        # The shared ConfigMap also holds flags of other binaries; only check the ones it
        # names for this binary's own Deployment env, and check the ConfigMap against the union.
        if var in NOT_FLAGS or var in config:
            continue
        if flag not in known:
            fail(f"{name}: {var} is not a flag of {binary}")
    for arg in c.get("args", []):
        flag = arg.lstrip("-").split("=")[0]
        if flag not in known:
            fail(f"{name}: {arg} is not a flag of {binary}")

    # 3. Hardening, probes, drain.
    if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
        fail(f"{name}: runAsNonRoot")
    sc = c.get("securityContext", {})
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(f"{name}: readOnlyRootFilesystem")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(f"{name}: allowPrivilegeEscalation")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        fail(f"{name}: capabilities must drop ALL")
    for probe in ("readinessProbe", "livenessProbe"):
        if "grpc" not in c.get(probe, {}):
            fail(f"{name}: {probe} must use grpc.health.v1")
    if c["livenessProbe"]["grpc"].get("service") != "liveness":
        fail(f"{name}: liveness must ask the 'liveness' service, not readiness")
    res = c.get("resources", {})
    if "cpu" not in res.get("requests", {}) or "memory" not in res.get("limits", {}):
        fail(f"{name}: cpu request and memory limit required")
    pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_stop_s = int(pre_stop[-1]) if pre_stop and pre_stop[-1].isdigit() else None
    grace = duration_seconds(config.get("TALLY_DRAIN_GRACE", ""))
    drain = duration_seconds(config.get("TALLY_DRAIN_TIMEOUT", ""))
    if pre_stop_s is None or grace is None or drain is None:
        fail(f"{name}: preStop sleep, TALLY_DRAIN_GRACE and TALLY_DRAIN_TIMEOUT required")
    elif spec.get("terminationGracePeriodSeconds", 30) < pre_stop_s + grace + drain:
        fail(f"{name}: terminationGracePeriodSeconds does not cover preStop + grace + drain")

# The shared ConfigMap: every key is a flag of some binary.
all_flags = set().union(*[flags(b) for b in {os.path.basename(
    d["spec"]["template"]["spec"]["containers"][0]["command"][0]) for d in deployments.values()}])
for var in config:
    if var[len("TALLY_"):].lower() not in all_flags:
        fail(f"tally-config: {var} is not a flag of any binary")

# 4. A Service and a PodDisruptionBudget per Deployment; scaling as the issue asks.
services = {s["metadata"]["name"]: s for s in base["Service"]}
pdbs = {p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for p in base["PodDisruptionBudget"]}
hpas = {h["spec"]["scaleTargetRef"]["name"] for h in base["HorizontalPodAutoscaler"]}
for name in deployments:
    ports = {p["name"] for p in services.get(name, {}).get("spec", {}).get("ports", [])}
    if ports != {"grpc", "metrics"}:
        fail(f"{name}: needs a Service with grpc and metrics ports")
    if name not in pdbs:
        fail(f"{name}: needs a PodDisruptionBudget")
# The orchestrator's peers are headless and reached by their DNS names, so calls spread over
# every pod (a ClusterIP pins each gRPC connection to one pod).
for name, var in (("tally-policy", "TALLY_POLICY_ADDR"),
                  ("tally-credential", "TALLY_CREDENTIAL_ADDR"),
                  ("tally-otp-api", "TALLY_OTP_ADDR"),
                  ("tally-passkey", "TALLY_PASSKEY_ADDR")):
    if services.get(name, {}).get("spec", {}).get("clusterIP") != "None":
        fail(f"{name}: its Service must be headless (clusterIP: None)")
    port = next((p["port"] for p in services.get(name, {}).get("spec", {}).get("ports", [])
                 if p["name"] == "grpc"), None)
    if config.get(var) != f"dns:///{name}:{port}":
        fail(f"tally-config: {var} must be dns:///{name}:{port}")
for name in ("tally-orchestrator", "tally-credential", "tally-passkey", "tally-otp-api"):
    if name not in hpas:
        fail(f"{name}: needs a CPU HorizontalPodAutoscaler")
# The senders scale on every shard of the configured delivery queue: redis-streams for one
# Redis in the base, redis-cluster-streams on the same shards in the Redis Cluster component.
shards = [f"{{{config['TALLY_OTP_QUEUE']}-{i}}}:deliveries"
          for i in range(int(config["TALLY_OTP_QUEUE_SHARDS"]))]


def check_stream_triggers(where, triggers, kind):
    if [t.get("type") for t in triggers] != [kind] * len(shards) or \
            [t["metadata"].get("stream") for t in triggers] != shards or \
            {t["metadata"].get("consumerGroup") for t in triggers} != {config["TALLY_OTP_CONSUMER_GROUP"]}:
        fail(f"{where}: one {kind} trigger per shard of the configured queue and group "
             f"({len(shards)} shards)")


scaled = [s for s in base.get("ScaledObject", []) if s["spec"]["scaleTargetRef"]["name"] == "tally-otp-sender"]
if not scaled:
    fail("tally-otp-sender: needs a KEDA ScaledObject")
else:
    check_stream_triggers("tally-otp-sender ScaledObject", scaled[0]["spec"]["triggers"],
                          "redis-streams")
component = f"{K8S}/components/otp-sender-keda-redis-cluster"
if load_all(f"{component}/kustomization.yaml")[0].get("kind") != "Component":
    fail(f"{component}: must be a kustomize Component")
patched = {d["kind"]: d for p in glob.glob(f"{component}/*.yaml") for d in load_all(p)}
check_stream_triggers("otp-sender-keda-redis-cluster", patched["ScaledObject"]["spec"]["triggers"],
                      "redis-cluster-streams")
if "addresses" not in [r["parameter"] for r in patched["TriggerAuthentication"]["spec"]["secretTargetRef"]]:
    fail("otp-sender-keda-redis-cluster: the TriggerAuthentication must give the cluster's addresses")
# Rendered for real when kustomize is at hand: the component applies to the base.
kubectl = shutil.which("kubectl")
if kubectl:
    with tempfile.TemporaryDirectory() as overlay:
        k8s = os.path.relpath(K8S, overlay)
        with open(f"{overlay}/kustomization.yaml", "w") as f:
            f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                    f"resources: [{k8s}/base]\n"
                    f"components: [{k8s}/components/otp-sender-keda-redis-cluster]\n")
        out = subprocess.run([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                              overlay], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            fail(f"base + otp-sender-keda-redis-cluster does not render: {out.stderr.strip()}")
        else:
            rendered = [d for d in yaml.safe_load_all(out.stdout) if d]
            scaled = [d for d in rendered if d["kind"] == "ScaledObject"]
            if len(scaled) != 1:
                fail("base + otp-sender-keda-redis-cluster: one ScaledObject expected")
            else:
                check_stream_triggers("rendered redis cluster ScaledObject",
                                      scaled[0]["spec"]["triggers"], "redis-cluster-streams")

# Alerts name metrics the services register (a renamed metric must not silence an alert), and
# suspected SMS pumping (codes refused by the budgets before proof) raises one. The sources, not
# the binaries: the compiler may build a name from immediates, leaving no string to find.
exported = set()
for source in glob.glob(os.path.join(ROOT, "common/**/*.cc"), recursive=True) + \
        glob.glob(os.path.join(ROOT, "services/**/*.cc"), recursive=True):
    if not source.endswith("_test.cc"):
        with open(source) as f:
            exported |= set(re.findall(r'\.Name\("(tally_[a-z_]+)"\)', f.read()))
for rule_doc in base["PrometheusRule"]:
    for group in rule_doc["spec"]["groups"]:
        for rule in group["rules"]:
            for metric in set(re.findall(r"\b(tally_[a-z_]+)", rule["expr"])):
                stem = re.sub(r"_(bucket|count|sum)$", "", metric)
                if stem not in exported:
                    fail(f"alert {rule['alert']}: {metric} is registered by no service")
pumping = [r for d in base["PrometheusRule"] for g in d["spec"]["groups"] for r in g["rules"]
           if "tally_otp_sends_refused_total" in r["expr"] and "unproven_" in r["expr"]]
if not pumping:
    fail("prometheusrules: needs an alert on codes refused by the budgets before proof")

# 5. Every Secret key the base reads is produced by the dev overlay.
with open(f"{K8S}/overlays/dev/make-dev-keys.sh") as f:
    dev_keys = set(re.findall(r"^([a-z0-9-]+)=", f.read(), re.M))
text = "\n".join(open(p).read() for p in glob.glob(f"{K8S}/base/*.yaml"))
for secret, key in re.findall(r"name: (tally-secrets)\n\s+key: ([a-z0-9-]+)", text):
    if key not in dev_keys:
        fail(f"secret key {key} is read by the base but not made by the dev overlay")

# 6. Every Secret key a Deployment or a component reads is documented for operators.
with open(os.path.join(ROOT, "deploy/README.md")) as f:
    readme = f.read()
text += "\n".join(open(p).read() for p in glob.glob(f"{K8S}/components/*/*.yaml"))
for secret, key in set(re.findall(r"name: (tally-secrets)\n\s+key: ([a-z0-9-]+)", text)):
    if f"`{key}`" not in readme:
        fail(f"secret key {key} is not documented in deploy/README.md")

# 7. Revocation: every Deployment that takes session tokens (mounts the JWKS) has its Redis,
# since a service refuses to start without the revocation records.
for name, d in deployments.items():
    spec = d["spec"]["template"]["spec"]
    mounts_jwks = any(v.get("configMap", {}).get("name") == "tally-jwks"
                      for v in spec.get("volumes", []))
    env = {e["name"] for e in spec["containers"][0].get("env", [])}
    if mounts_jwks and "TALLY_REDIS_URL" not in env:
        fail(f"{name}: takes session tokens but has no TALLY_REDIS_URL")

# 8. Mutual TLS in production: a certificate per Deployment naming its service (the SPIFFE ID
# the other services' allow-lists of cluster callers match, API.md "Cluster callers"), and no
# certificate naming two services.
PROD = f"{K8S}/overlays/production"
TALLY_SERVICES = {"orchestrator", "policy", "credential", "otp", "passkey"}


def service_of_deployment(deployment):
    short = deployment[len("tally-"):]
    return "otp" if short in ("otp-api", "otp-sender") else short


def services_named(cert_spec):
    named = set()
    for uri in cert_spec.get("uris", []):
        if uri.startswith("spiffe://tally/") and uri[len("spiffe://tally/"):] in TALLY_SERVICES:
            named.add(uri[len("spiffe://tally/"):])
    for dns in cert_spec.get("dnsNames", []):
        if dns.startswith("tally-") and dns in {f"tally-{d}" for d in
                                                 ("orchestrator", "policy", "credential",
                                                  "passkey", "otp-api", "otp-sender")}:
            named.add(service_of_deployment(dns))
    return named


certificates = {c["spec"]["secretName"]: c["spec"]
                for c in load_all(f"{PROD}/certificates.yaml") if c["kind"] == "Certificate"}
mounted = {}
for patch in load_all(f"{PROD}/kustomization.yaml")[0].get("patches", []):
    if "patch" not in patch:
        continue
    for op in yaml.safe_load(patch["patch"]):
        value = op.get("value", {})
        if isinstance(value, dict) and value.get("name") == "tls":
            mounted.setdefault(patch["target"]["name"], []).append(value["secret"]["secretName"])
for name in deployments:
    secrets = mounted.get(name, [])
    if len(secrets) != 1:
        fail(f"production: {name} must mount exactly one certificate as `tls`, not {secrets}")
        continue
    cert = certificates.get(secrets[0])
    if cert is None:
        fail(f"production: {name} mounts {secrets[0]}, which no Certificate writes")
        continue
    service = service_of_deployment(name)
    if cert.get("uris") != [f"spiffe://tally/{service}"]:
        fail(f"production: {secrets[0]} must carry exactly the URI spiffe://tally/{service}")
    if name not in cert.get("dnsNames", []):
        fail(f"production: {secrets[0]} must name its Service {name}")
    if services_named(cert) != {service}:
        fail(f"production: {secrets[0]} names {sorted(services_named(cert))}, not only {service}")

for f in failures:
    print("FAIL:", f)
print(f"{len(deployments)} deployments checked, {len(failures)} problems")
sys.exit(1 if failures else 0)

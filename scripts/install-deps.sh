#!/usr/bin/env bash
# Installs the Debian 12 packages polder builds and tests with.
# Idempotent and quiet when everything is already there.
# usage: install-deps.sh [--test]
#   --test  also what only the tests need: chromium, for the report's browser
#           test (about 130 packages, 290 MB, so builds go without it), and
#           lintian, which checks the Debian packages, and python3-capirca, which
#           bench/capirca compares polder with
set -euo pipefail
with_tests=false
for arg in "$@"; do
  case $arg in
    --test) with_tests=true ;;
    *) echo "install-deps: unknown option $arg (usage: install-deps.sh [--test])" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
  nftables libnftables-dev libnftnl-dev libmnl-dev iproute2 iputils-ping
  libboost-graph-dev libyaml-cpp-dev libabsl-dev libcli11-dev nlohmann-json3-dev
  libfmt-dev libsqlite3-dev libssl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  golang-etcd-server-dev golang-github-gogo-protobuf-dev golang-github-grpc-ecosystem-grpc-gateway-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-jsonschema python3-yaml graphviz time ccache radvd
  help2man dpkg-dev fakeroot
)
# Only for tests: tests/report/report_browser.sh renders `polder report` in it;
# tests/packaging/deb_install.sh runs lintian on the packages; tests/ha/ start their own etcd;
# bench/capirca/capirca_bench.sh times Capirca's aclgen on the same policy as polder.
# (The etcd .proto files the controller's etcd store is built from are in the list above.)
test_packages=(chromium lintian etcd-server etcd-client python3-capirca)
$with_tests && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

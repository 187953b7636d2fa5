#!/usr/bin/env bash
# Bootstrap what netwarden needs on a fresh Debian 12 machine:
#  - as root: the Debian packages in scripts/debian-packages.txt (only the missing ones);
#  - always: .venv with the pinned requirements and netwarden installed (editable),
#    and the auditor's C kernels (collectors/auditor/native.c) compiled;
#  - with --ansible-full (what `make pytest` runs): also the test-only venvs, never
#    needed to run netwarden itself: .venv-ansible-full with the full `ansible`
#    package (requirements-ansible-full.txt: cisco.ios and ansible.netcommon, about
#    550 MB), for the tests that drive the simulator with real cisco.ios playbooks,
#    and .venv-scrapli2 with scrapli 2.x (requirements-scrapli2.txt, about 20 MB: it
#    installs the same `scrapli` module as the 1.x pinned in requirements.txt);
#  - with --scrapli2: .venv-scrapli2 only.
# Idempotent and quick when nothing changed (stamp files keyed on the input hashes).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
ANSIBLE_FULL_VENV=${ANSIBLE_FULL_VENV:-.venv-ansible-full}
SCRAPLI2_VENV=${SCRAPLI2_VENV:-.venv-scrapli2}
PYTHON=${PYTHON:-}
WITH_ANSIBLE_FULL=0
WITH_SCRAPLI2=0
for arg in "$@"; do
    case "$arg" in
        --ansible-full) WITH_ANSIBLE_FULL=1; WITH_SCRAPLI2=1 ;;
        --scrapli2) WITH_SCRAPLI2=1 ;;
        *) printf 'bootstrap: unknown option %s (expected --ansible-full or --scrapli2)\n' "$arg" >&2; exit 2 ;;
    esac
done

log() { printf 'bootstrap: %s\n' "$*" >&2; }

install_debian_packages() {
    if [ "$(id -u)" != 0 ]; then
        log "not root: skipping Debian packages (lab tests that need them will skip)"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "no apt-get: skipping Debian packages"
        return 0
    fi
    local missing=()
    while read -r pkg; do
        pkg=${pkg%%#*}; pkg=${pkg//[[:space:]]/}
        [ -n "$pkg" ] || continue
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done < scripts/debian-packages.txt
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    # The lab's directory and KDC write their own configs: the packages must not ask or configure.
    printf '%s\n' "slapd slapd/no_configuration boolean true" \
        "krb5-config krb5-config/default_realm string LAB.INVALID" \
        "krb5-config krb5-config/kerberos_servers string localhost" \
        "krb5-config krb5-config/admin_server string localhost" \
        "krb5-config krb5-config/add_servers_realm string LAB.INVALID" \
        "krb5-config krb5-config/add_servers boolean false" \
        "krb5-config krb5-config/read_conf boolean true" | debconf-set-selections 2>/dev/null || true
    apt-get update -qq
    # Do not start services from package postinst scripts (prometheus, sshd): tests start their own.
    local had_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && had_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ "$had_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}

pick_python() {
    if [ -n "$PYTHON" ]; then echo "$PYTHON"; return; fi
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            echo "$cand"; return
        fi
    done
    log "Python 3.11 is required (python3.11 or python3 at version 3.11)"
    exit 2
}

make_venv() {
    local py stamp want
    py=$(pick_python)
    want=$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
    stamp="$VENV/.netwarden-bootstrap"
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV with $py"
        "$py" -m venv "$VENV"
    fi
    log "installing pinned requirements into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
    echo "$want" > "$stamp"
}

make_ansible_full_venv() {
    local py stamp want
    py=$(pick_python)
    want=$(sha256sum < requirements-ansible-full.txt | cut -c1-16)
    stamp="$ANSIBLE_FULL_VENV/.netwarden-bootstrap"
    if [ -x "$ANSIBLE_FULL_VENV/bin/ansible-playbook" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if [ ! -x "$ANSIBLE_FULL_VENV/bin/python" ]; then
        log "creating $ANSIBLE_FULL_VENV with $py (test-only: the full ansible package)"
        "$py" -m venv "$ANSIBLE_FULL_VENV"
    fi
    log "installing requirements-ansible-full.txt into $ANSIBLE_FULL_VENV (about 550 MB, once)"
    "$ANSIBLE_FULL_VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-ansible-full.txt
    echo "$want" > "$stamp"
}

make_scrapli2_venv() {
    local py stamp want
    py=$(pick_python)
    want=$(sha256sum < requirements-scrapli2.txt | cut -c1-16)
    stamp="$SCRAPLI2_VENV/.netwarden-bootstrap"
    if [ -x "$SCRAPLI2_VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    if [ ! -x "$SCRAPLI2_VENV/bin/python" ]; then
        log "creating $SCRAPLI2_VENV with $py (test-only: scrapli 2.x)"
        "$py" -m venv "$SCRAPLI2_VENV"
    fi
    log "installing requirements-scrapli2.txt into $SCRAPLI2_VENV"
    "$SCRAPLI2_VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-scrapli2.txt
    echo "$want" > "$stamp"
}

install_debian_packages
make_venv
if [ "$WITH_ANSIBLE_FULL" = 1 ]; then
    make_ansible_full_venv
fi
if [ "$WITH_SCRAPLI2" = 1 ]; then
    make_scrapli2_venv
fi

# The auditor's C kernels (collectors/auditor/native.c): built once per source change;
# without a compiler the auditor runs its slower pure Python loops (a warning, not a failure).
"$VENV/bin/python" -m collectors.auditor.native >/dev/null 2>&1 \
    || log "warning: could not build the auditor's C kernels (no cc?); the auditor will be slower"

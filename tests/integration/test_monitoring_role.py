"""roles/monitoring without servers: the playbooks parse, the argument spec matches the
defaults, the lookup gives each monitoring server its part of ``netwarden monitoring
config`` (promtool accepts it), and the templates render units ``systemd-analyze
verify`` accepts.

The real ``ansible-playbook`` runs a small play on the controller (``connection:
local``) with the role's defaults, lookup and templates against the example inventory
(its example vault password); the deployment itself is tested on the namespace lab
(tests/lab/test_monitoring_lab.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLE = Path("roles/monitoring")
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
UNITS = ("netwarden-exporter", "netwarden-access-exporter")

RENDER = """
- name: Render the monitoring role's parts on the controller
  hosts: "{host}"
  gather_facts: false
  vars_files: ["{repo}/roles/monitoring/defaults/main.yml"]
  tasks:
    - name: Generate the Prometheus configuration
      ansible.builtin.set_fact:
        monitoring_host: >-
          {{{{ (lookup('netwarden_monitoring', [inventory_hostname],
                       inventory=ansible_inventory_sources[0], layout=monitoring_layout,
                       exporter=monitoring_exporter_listen,
                       access_exporter=monitoring_access_exporter_listen,
                       scrape_interval=monitoring_scrape_interval,
                       scrape_timeout=monitoring_scrape_timeout,
                       config_interval=monitoring_config_interval))[inventory_hostname] }}}}
    - name: Write the lookup's answer
      ansible.builtin.copy:
        content: "{{{{ monitoring_host | to_json }}}}"
        dest: "{out}/{{{{ inventory_hostname }}}}.json"
        mode: "0600"
    - name: Render the templates
      ansible.builtin.template:
        src: "{repo}/roles/monitoring/templates/{{{{ item.src }}}}"
        dest: "{out}/{{{{ item.dest }}}}"
        mode: "0644"
      loop:
        - {{src: netwarden-exporter.service.j2, dest: netwarden-exporter.service}}
        - {{src: netwarden-access-exporter.service.j2, dest: netwarden-access-exporter.service}}
        - {{src: netwarden-exporter.default.j2, dest: netwarden-exporter.default}}
        - {{src: netwarden-access-exporter.default.j2, dest: netwarden-access-exporter.default}}
        - {{src: inventory-server.yml.j2, dest: inventory-server.yml}}
"""


def _play(repo: Path, inventory: Path, host: str, out: Path, *extra: str) -> str:
    playbook = out / "render.yml"
    playbook.write_text(RENDER.format(host=host, repo=repo, out=out))
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(repo / "roles"),
        "ANSIBLE_LOOKUP_PLUGINS": str(repo / ROLE / "lookup_plugins"),
        "ANSIBLE_VAULT_PASSWORD_FILE": str(inventory / ".vault-password"),
        "ANSIBLE_NOCOLOR": "1",
    }
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook), "-c", "local",
         "-e", "ansible_connection=local", "-e", "ansible_python_interpreter=" + sys.executable,
         *extra],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return f"{done.returncode}\n{done.stdout}{done.stderr}"


@pytest.mark.integration
def test_the_playbooks_parse(repo_root: Path) -> None:
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "--syntax-check", "playbooks/monitoring.yml", "playbooks/site.yml"],
        cwd=repo_root, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    site = yaml.safe_load((repo_root / "playbooks/site.yml").read_text())
    imported = [p["ansible.builtin.import_playbook"] for p in site]
    assert imported[-2:] == ["servers.yml", "monitoring.yml"]  # after the servers


def test_the_argument_spec_documents_every_default(repo_root: Path) -> None:
    defaults = yaml.safe_load((repo_root / ROLE / "defaults/main.yml").read_text())
    spec = yaml.safe_load((repo_root / ROLE / "meta/argument_specs.yml").read_text())
    options: dict[str, Any] = spec["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults)
    for name, value in defaults.items():
        assert options[name]["default"] == value, name
        assert options[name]["description"], name


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    out = tmp_path_factory.mktemp("monrole")
    result = _play(repo_root, repo_root / "inventory", "jed-mon1", out)
    assert result.startswith("0\n"), result[-3000:]
    return out


@pytest.mark.integration
def test_the_lookup_gives_hq_the_single_layout_promtool_accepts(
    rendered: Path, repo_root: Path
) -> None:
    host = json.loads((rendered / "jed-mon1.json").read_text())
    assert (host["layout"], host["part"]) == ("single", "single")
    assert {
        "prometheus.yml",
        "targets/devices.json",
        "targets/sites.json",
        "targets/nodes.json",
        "targets/sensors.json",
    } <= set(host["files"])
    assert {Path(name).parent.name for name in host["files"]} <= {"", "targets", "rules"}
    assert host["inventory_copy"] == ["group_vars", "host_vars", "hosts.yml"]
    assert Path(host["inventory_dir"]) == (repo_root / "inventory").resolve()
    assert host["vault_password_file"].endswith(".vault-password")
    # what the role writes to /etc/prometheus: promtool checks it where it lies
    etc = rendered / "etc-prometheus"
    for name, text in host["files"].items():
        (etc / name).parent.mkdir(parents=True, exist_ok=True)
        (etc / name).write_text(text)
    assert "job_name: netwarden_access" in host["files"]["prometheus.yml"]
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian's prometheus) is not installed")
    done = subprocess.run([promtool, "check", "config", str(etc / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr  # every file_sd file is there
    for rules in sorted(etc.glob("rules/*")):  # as the role checks each one
        done = subprocess.run([promtool, "check", "rules", str(rules)],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_the_units_are_hardened_and_the_options_hold_no_secret(rendered: Path) -> None:
    for unit in UNITS:
        text = (rendered / f"{unit}.service").read_text()
        for line in ("User=netwarden-exporter", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ProtectHome=yes", "PrivateTmp=yes", "Restart=on-failure",
                     "ReadOnlyPaths=/etc/netwarden", f"StateDirectory={unit}",
                     "CapabilityBoundingSet=\n", f"EnvironmentFile=/etc/default/{unit}"):  # fmt: skip
            assert line in text, (unit, line)
    serve = (rendered / "netwarden-exporter.default").read_text()
    assert "--vault-password-file /etc/netwarden/vault-password" in serve
    access = (rendered / "netwarden-access-exporter.default").read_text()
    assert "--listen-syslog 10.10.10.106:5514" in access  # jed-mon1's management address
    secret = (Path("inventory") / ".vault-password").read_text().strip()
    for path in rendered.iterdir():
        if path.is_file() and path.suffix != ".json":
            assert secret not in path.read_text(), path


@pytest.mark.integration
def test_a_privileged_syslog_port_gets_only_cap_net_bind_service(
    tmp_path: Path, repo_root: Path
) -> None:
    result = _play(repo_root, repo_root / "inventory", "jed-mon1", tmp_path,
                   "-e", "monitoring_access_syslog_listen=10.10.10.106:514")  # fmt: skip
    assert result.startswith("0\n"), result[-3000:]
    text = (tmp_path / "netwarden-access-exporter.service").read_text()
    assert "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n" in text
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE\n" in text
    assert "CapabilityBoundingSet=\n" in (tmp_path / "netwarden-exporter.service").read_text()


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verifies_the_units(rendered: Path) -> None:
    units = rendered / "units"
    units.mkdir()
    program = rendered / "netwarden"  # monitoring_netwarden_bin must exist for verify
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    for unit in UNITS:
        text = (rendered / f"{unit}.service").read_text()
        text = text.replace("/opt/netwarden/bin/netwarden", str(program))
        (units / f"{unit}.service").write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(units / f"{u}.service") for u in UNITS)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )  # fmt: skip
    output = done.stdout + done.stderr
    mine = [line for line in output.splitlines() if any(u in line for u in UNITS)]
    assert done.returncode == 0, output
    assert not mine, output


def _providing(repo: Path, tmp_path: Path, names: tuple[str, ...]) -> Path:
    """A copy of the example inventory where ``names`` also provide prometheus-federate."""
    inventory = tmp_path / "inventory"
    shutil.copytree(repo / "inventory", inventory)
    for name in names:
        path = inventory / "host_vars" / f"{name}.yml"
        data = yaml.safe_load(path.read_text())
        data["provides"] = [*data["provides"], "prometheus-federate"]
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return inventory


FIELD_SERVERS = ("nyc-srv1", "gva-srv1", "bru-srv1", "kbl-srv1")


@pytest.mark.integration
def test_the_federated_layout_needs_every_site_prometheus_and_a_second_hq_server(
    tmp_path: Path, repo_root: Path
) -> None:
    result = _play(repo_root, repo_root / "inventory", "jed-mon1", tmp_path,
                   "-e", "monitoring_layout=federated")  # fmt: skip
    assert not result.startswith("0\n")
    assert "site bru, gva, kbl, nyc has no server that provides prometheus-federate" in result
    inventory = _providing(repo_root, tmp_path, FIELD_SERVERS)
    result = _play(repo_root, inventory, "jed-mon1", tmp_path)  # auto: federated
    assert not result.startswith("0\n")
    assert "HQ's federating Prometheus (hq/) needs a server at HQ" in result
    assert "jed-mon1 runs site-jed" in result


@pytest.mark.integration
def test_the_federated_layout_gives_hq_and_each_site_its_part(
    tmp_path: Path, repo_root: Path
) -> None:
    inventory = _providing(repo_root, tmp_path, ("jed-web1", *FIELD_SERVERS))
    parts = {}
    for host in ("jed-mon1", "jed-web1", "nyc-srv1"):
        out = tmp_path / host
        out.mkdir()
        result = _play(repo_root, inventory, host, out)  # auto: a field server provides it
        assert result.startswith("0\n"), result[-3000:]
        answer = json.loads((out / f"{host}.json").read_text())
        assert answer["layout"] == "federated"
        parts[host] = answer
    assert parts["jed-mon1"]["part"] == "site-jed"  # HQ's site Prometheus: first by name
    assert parts["jed-web1"]["part"] == "hq"
    assert parts["nyc-srv1"]["part"] == "site-nyc"
    hq = parts["jed-web1"]["files"]
    assert set(hq) == {"prometheus.yml", "targets/federate.json"}
    federate = json.loads(hq["targets/federate.json"])
    assert {g["labels"]["__meta_netwarden_site"] for g in federate} == {
        "jed", "nyc", "gva", "bru", "kbl"
    }  # fmt: skip
    assert "prometheus: site-nyc" in parts["nyc-srv1"]["files"]["prometheus.yml"]


@pytest.mark.integration
def test_ansible_doc_reads_the_module_and_lookup(repo_root: Path) -> None:
    ansible_doc = str(Path(sys.executable).parent / "ansible-doc")
    env = {**os.environ, "ANSIBLE_LOOKUP_PLUGINS": str(repo_root / ROLE / "lookup_plugins")}
    for args in (["-M", str(repo_root / ROLE / "library"), "monitoring_lab_unit"],
                 ["-t", "lookup", "netwarden_monitoring"]):  # fmt: skip
        done = subprocess.run([ansible_doc, "--json", *args], capture_output=True, text=True,
                              timeout=120, check=False, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout), args

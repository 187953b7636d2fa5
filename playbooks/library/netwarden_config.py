"""Documentation of the ``netwarden_config`` action plugin (``playbooks/action_plugins/netwarden_config.py``).

The plugin does the work on the controller, in ansible-playbook's own Python;
this file is what ``ansible-doc -M playbooks/library netwarden_config`` reads and what
Ansible resolves the action name to.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: netwarden_config
short_description: Plan or apply the intended configuration of an ios switch or nftables firewall with commit-confirm
description:
  - Renders the intended configuration of one inventory host with its platform's renderer (the
    same output as C(netwarden render)) and compares it with the device through the platform's
    registered device session - an ios switch from the C(ios_baseline) templates through NAPALM,
    an nftables firewall's ruleset from the flow policy over SSH (C(nft -c -f) validation, atomic
    C(nft -f) load, the revert timer armed on the firewall itself).
  - In check mode (or with O(state=planned)) it only plans - loads the intended config as a
    replace candidate, takes the device's diff and hier_config's remediation commands, and
    discards the candidate - so nothing changes on the device. C(changed) says whether applying
    would change it; with C(--diff) the device's diff is shown.
  - Otherwise it applies - commit with a revert timer, post-checks on a new session (SSH, hostname,
    management interface, running equals intended), confirm if every check passed, else roll back.
    A device whose config is already the intended one is not touched (C(changed=false)).
    The device is planned once - the session that planned it commits, after checking that no
    commit is pending and the device still runs the config the plan was made from (else the task
    fails, nothing committed).
  - A device rolled back or left in another state fails the task with the reason.
  - No return value and no diff carries a secret - type 7 keys, type 9 hashes and SNMPv3 keys in
    commands, diffs, reasons and check details are shown as C(<removed>), so a changed secret
    still shows as a changed line; a device's control characters are escaped in the diff.
  - An action plugin - it talks to the device from the controller, in ansible-playbook's own
    Python, so ansible-playbook must run from netwarden's venv. Nothing runs on the device's
    side (use a play with C(connection=local)).
version_added: "0.1.0"
author: netwarden
options:
  device:
    description: The inventory name of the device; default the task's C(inventory_hostname).
    type: str
  inventory:
    description:
      - The inventory the device is read from (netwarden validates it, vault included);
        default the play's first inventory source, C(ansible_inventory_sources[0]).
    type: path
  vault_password_file:
    description:
      - The vault password file; default the one ansible-playbook uses (C(--vault-password-file)
        or configuration), else netwarden's order (C(NETWARDEN_VAULT_PASSWORD_FILE),
        C(ANSIBLE_VAULT_PASSWORD_FILE), then C(<inventory>/.vault-password)).
    type: path
  known_hosts:
    description:
      - The known_hosts file host keys are checked against; default C(<inventory>/known_hosts.txt)
        if present, else C(~/.ssh/known_hosts). An unknown or changed key fails the task.
    type: path
  trust_on_first_use:
    description: Record an UNKNOWN host key instead of refusing it (a CHANGED key is always refused).
    type: bool
    default: false
  timeout:
    description: Seconds to wait for the device (connect, each command).
    type: float
    default: 30.0
  confirm_timeout:
    description: Minutes (1-120) after which the device reverts an unconfirmed commit by itself.
    type: int
    default: 10
  state:
    description:
      - V(applied) converges the device (plan only in check mode).
      - V(planned) only plans, as in check mode, whatever the mode.
    type: str
    choices: [applied, planned]
    default: applied
  backup_repo:
    description:
      - A git repository (created if absent) the running config is backed up into, sanitised,
        before a change is committed (the running config the plan was made from). No backup is
        taken when nothing changes. Not in check mode.
    type: path
  message:
    description: Why, recorded in the backup commit.
    type: str
    default: ""
  render_vars:
    description:
      - The role's variables for the renderer (C(nftables_firewall_*) toggles of the
        C(nftables_firewall) role; C(ios_baseline_*) for a switch); default the role defaults,
        what C(netwarden render) prints.
    type: dict
notes:
  - Supports check mode (plan) and diff mode (the device's own diff, as O(state=planned) shows).
  - Canary waves and concurrency are the play's - C(serial) and C(max_fail_percentage), forks.
seealso:
  - module: netwarden_backup
"""

EXAMPLES = r"""
- name: Converge the switch to its intended configuration
  netwarden_config:
    confirm_timeout: 10
    backup_repo: "{{ playbook_dir }}/../var/backups"

- name: Show what would change, whatever the mode
  netwarden_config:
    state: planned
"""

RETURN = r"""
status:
  description: The outcome - planned, unchanged, changed, rolled_back or failed.
  returned: always
  type: str
  sample: changed
reason:
  description: Why the device failed or was rolled back (empty otherwise).
  returned: always
  type: str
commands:
  description: hier_config's remediation, the exact commands that turn running into intended
    (secret values shown as C(<removed>)).
  returned: always
  type: list
  elements: str
  sample: ["aaa new-model", "no ip http server"]
device_diff:
  description: The device's own diff of running against the intended config (normalised;
    secret values shown as C(<removed>)).
  returned: always
  type: str
checks:
  description: The post-checks run after the commit, each with name, passed and detail.
  returned: when a commit was made
  type: list
  elements: dict
backup_commit:
  description: The backup repository's commit taken before the change (null when none).
  returned: when O(backup_repo) is set and the device changed
  type: str
change_commit:
  description:
    - The backup repository's commit recording the running config the change left, authored by
      the user who ran the play, with O(message) (null when there was nothing to record).
    - A rolled-back or failed device is recorded only when its running config differs from its
      last backup.
  returned: when O(backup_repo) is set and the device changed
  type: str
"""


def main() -> None:
    module = AnsibleModule(argument_spec={}, bypass_checks=True)
    module.fail_json(
        msg="netwarden_config runs as an action plugin on the controller: keep "
        "playbooks/action_plugins/netwarden_config.py beside playbooks/library"
    )


if __name__ == "__main__":
    main()

"""Documentation of the ``netwarden_backup`` action plugin (``playbooks/action_plugins/netwarden_backup.py``).

The plugin does the work on the controller, in ansible-playbook's own Python;
this file is what ``ansible-doc -M playbooks/library netwarden_backup`` reads and what
Ansible resolves the action name to.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: netwarden_backup
short_description: Back up the running configuration of an ios device into a git repository
description:
  - Reads the running configuration of one inventory host through NAPALM, removes the lines that
    change by themselves and every secret, and stores it as C(<repo>/<device>.cfg) in a git
    repository (created if absent), as C(netwarden backup) does.
  - Commits when the stored file changed; the commit message says who ran it, why, and the
    device's status. C(changed) is true when this run's commit changed the device's file.
  - Each host commits on its own (forks are serialised by a lock on the repository), so a play
    makes one commit per changed device; C(netwarden backup) makes one commit per run.
  - In check mode it reads the device and says whether a backup would change the file; it
    writes nothing.
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
  repo:
    description: The backup git repository (created if absent).
    type: path
    required: true
  message:
    description: Why, recorded in the commit message.
    type: str
    default: ""
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
notes:
  - Supports check mode. An unreachable device fails the task with the reason.
seealso:
  - module: netwarden_config
"""

EXAMPLES = r"""
- name: Back up the switch
  netwarden_backup:
    repo: "{{ playbook_dir }}/../var/backups"
    message: nightly
"""

RETURN = r"""
status:
  description: The device's backup status - new, changed, unchanged or unreachable.
  returned: always
  type: str
  sample: changed
path:
  description: The file the sanitised config is stored in.
  returned: when the device was reached
  type: str
commit:
  description: The commit this run made (null when nothing changed, and in check mode).
  returned: always
  type: str
"""


def main() -> None:
    module = AnsibleModule(argument_spec={}, bypass_checks=True)
    module.fail_json(
        msg="netwarden_backup runs as an action plugin on the controller: keep "
        "playbooks/action_plugins/netwarden_backup.py beside playbooks/library"
    )


if __name__ == "__main__":
    main()

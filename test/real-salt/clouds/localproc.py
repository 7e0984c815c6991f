"""
localproc: a TEST-ONLY salt-cloud driver (not part of the product) whose instances are local
salt-minion processes, so the real-Salt suite exercises salt-cloud's whole path on one host.

Each instance is a directory <state_dir>/<name>/ holding its minion config, root dir and pid file:

    (absent) --create--> running --stop--> stopped --start--> running --destroy--> (absent)

- start: runs `salt-minion -d` inside its own mount namespace, where /usr/local/bin is the
  instance's own directory (so training-env's /usr/local/bin/training-idle is per instance)
  and PATH starts with the instance's bin/ (a fake `docker` that lists one training container
  while the file <instance>/busy exists).
- It fires the events real drivers fire: salt/cloud/<name>/starting|started|stopping|stopped|
  creating|requesting|created|destroying|destroyed.

Provider settings: driver: localproc, state_dir, minion_cmd (a list: the salt-minion command),
pythonpath, master_port, master_publish_port, master_pki_dir, reserved (names of the reserve: a
user created them once with `salt-cloud -p` and stopped them; they appear here stopped).
"""
import json
import logging
import os
import shutil
import signal
import subprocess
import time

import salt.config as config
import salt.utils.cloud
from salt.exceptions import SaltCloudSystemExit

log = logging.getLogger(__name__)

__virtualname__ = "localproc"


def __virtual__():
    return __virtualname__


def get_configured_provider():
    """The provider's settings (salt-cloud drops a driver without this function)."""
    try:
        name = __active_provider_name__.value()
    except AttributeError:
        name = globals().get("__active_provider_name__")
    return config.is_provider_configured(__opts__, name or __virtualname__, ("state_dir",))


def _setting(key, default=None):
    vm_ = get_configured_provider() or {}
    return config.get_cloud_config_value(key, vm_, __opts__, default=default, search_global=False)


def _dir(name):
    return os.path.join(_setting("state_dir"), name)


def _pid(name):
    try:
        with open(os.path.join(_dir(name), "root", "minion.pid")) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _log_action(name, action):
    """One JSON line per action in <state_dir>/actions.log: what the suite's invariants are checked on."""
    d = _dir(name)
    entry = {
        "at": time.time(),
        "name": name,
        "action": action,
        "was_running": bool(_pid(name)),
        "busy": os.path.exists(os.path.join(d, "busy")),
        "by": os.environ.get("LOCALPROC_ACTOR", "salt-api"),
    }
    with open(os.path.join(_setting("state_dir"), "actions.log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def _fire(name, what, message):
    salt.utils.cloud.fire_event(
        "event",
        message,
        f"salt/cloud/{name}/{what}",
        args={"name": name, "driver": __virtualname__},
        sock_dir=__opts__["sock_dir"],
        transport=__opts__["transport"],
    )


def _node(name):
    state = "running" if _pid(name) else "stopped"
    return {
        "id": name,
        "name": name,
        "state": state,
        "image": "localproc",
        "size": "local",
        "private_ips": ["127.0.0.1"],
        "public_ips": [],
    }


def _write_instance(name):
    d = _dir(name)
    for sub in ("root", "bin", "usr-local-bin"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    conf = {
        "id": name,
        "master": "127.0.0.1",
        "master_port": int(_setting("master_port")),
        "publish_port": int(_setting("master_publish_port")),
        "root_dir": os.path.join(d, "root"),
        "pki_dir": os.path.join(d, "root", "pki"),
        "cachedir": os.path.join(d, "root", "cache"),
        "sock_dir": os.path.join(d, "root", "sock"),
        "pidfile": os.path.join(d, "root", "minion.pid"),
        "log_file": os.path.join(d, "root", "minion.log"),
        "log_level_logfile": "info",
        "acceptance_wait_time": 1,
        "random_reauth_delay": 0,
        "auth_safemode": False,
        "recon_default": 200,
        "recon_max": 1000,
    }
    with open(os.path.join(d, "minion"), "w") as f:
        json.dump(conf, f)
    docker = os.path.join(d, "bin", "docker")
    with open(docker, "w") as f:
        f.write("#!/bin/sh\n# fake docker: one training container while the busy file exists\n")
        f.write(f'[ -f "{d}/busy" ] && echo 0123456789ab\nexit 0\n')
    os.chmod(docker, 0o755)


def _start_process(name):
    d = _dir(name)
    env = dict(os.environ)
    env["PATH"] = os.path.join(d, "bin") + ":" + env.get("PATH", "/usr/bin:/bin")
    if _setting("pythonpath"):
        env["PYTHONPATH"] = _setting("pythonpath")
    script = 'mount --bind "$1/usr-local-bin" /usr/local/bin && shift && exec "$@"'
    cmd = list(_setting("minion_cmd")) + ["-c", d, "-d"]
    subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", d] + cmd,
        env=env, check=True, timeout=60,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        if _pid(name):
            return
        time.sleep(0.1)
    raise SaltCloudSystemExit(f"minion {name} did not start")


def _stop_process(name):
    pid = _pid(name)
    if not pid:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 15
    while time.time() < deadline and _pid(name):
        time.sleep(0.1)
    pid = _pid(name)
    if pid:
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def avail_locations(call=None):
    return {}


def avail_images(call=None):
    return {}


def avail_sizes(call=None):
    return {}


def list_nodes(call=None):
    root = _setting("state_dir")
    ret = {}
    # the reserve a user created once with salt-cloud -p and stopped: written here, stopped
    for name in _setting("reserved", []) or []:
        if not os.path.isfile(os.path.join(root, name, "minion")) and not os.path.exists(os.path.join(root, name + ".destroyed")):
            _write_instance(name)
    if not os.path.isdir(root):
        return ret
    for name in sorted(os.listdir(root)):
        if name.endswith(".destroyed"):
            continue
        if os.path.isfile(os.path.join(root, name, "minion")):
            ret[name] = _node(name)
    return ret


def list_nodes_full(call=None):
    return list_nodes(call)


def list_nodes_select(call=None):
    return salt.utils.cloud.list_nodes_select(list_nodes_full("function"), __opts__["query.selection"], call)


def show_instance(name, call=None):
    return _node(name)


def create(vm_):
    name = vm_["name"]
    try:
        os.remove(_dir(name) + ".destroyed")
    except OSError:
        pass
    _fire(name, "creating", "creating instance")
    _fire(name, "requesting", "requesting instance")
    # a profile's create_delay: a cloud that takes this long to make the VM (a create outlasting salt-api's wait)
    time.sleep(float(vm_.get("create_delay") or 0))
    _write_instance(name)
    # salt-cloud generated the minion's keys and pre-accepted the public one on the master (deploy: True):
    # install them, as a real driver's deploy script does, or the master rejects the minion's own new key
    if vm_.get("priv_key") and vm_.get("pub_key"):
        pki = os.path.join(_dir(name), "root", "pki")
        os.makedirs(pki, exist_ok=True)
        for fname, text, mode in (("minion.pem", vm_["priv_key"], 0o400), ("minion.pub", vm_["pub_key"], 0o644)):
            path = os.path.join(pki, fname)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)
    _log_action(name, "create")
    _start_process(name)
    _fire(name, "created", "created instance")
    return _node(name)


def start(name, call=None):
    if call != "action":
        raise SaltCloudSystemExit("The start action must be called with -a or --action.")
    _log_action(name, "start")
    _fire(name, "starting", "starting instance")
    if not _pid(name):
        _start_process(name)
    _fire(name, "started", "started instance")
    return {"state": "running", "changed": True}


def stop(name, call=None):
    if call != "action":
        raise SaltCloudSystemExit("The stop action must be called with -a or --action.")
    _log_action(name, "stop")
    _fire(name, "stopping", "stopping instance")
    _stop_process(name)
    _fire(name, "stopped", "stopped instance")
    return {"state": "stopped", "changed": True}


def destroy(name, call=None):
    if call == "function":
        raise SaltCloudSystemExit("The destroy action must be called with -d, --destroy, -a or --action.")
    _log_action(name, "destroy")
    _fire(name, "destroying", "destroying instance")
    _stop_process(name)
    shutil.rmtree(_dir(name), ignore_errors=True)
    open(_dir(name) + ".destroyed", "w").close()
    for sub in ("minions", "minions_pre"):
        try:
            os.remove(os.path.join(_setting("master_pki_dir"), sub, name))
        except OSError:
            pass
    _fire(name, "destroyed", "destroyed instance")
    return {"destroyed": True}

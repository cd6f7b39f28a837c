"""Make `ansible_collections.k3s_gpu.node` importable when pytest runs from a checkout.

ansible-test units runs from an installed collection tree, where this is a no-op. From the
repository root, the collection is reachable through .build/collections (ansible.cfg's
collections_path); without that tree a temporary one is made, linking to the checkout.
"""

import os
import sys
import tempfile

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _collections_root():
    try:
        import ansible_collections.k3s_gpu.node.plugins  # noqa: F401
        return None
    except ImportError:
        pass
    build = os.path.join(REPO_ROOT, ".build", "collections")
    if os.path.isdir(os.path.join(build, "ansible_collections", "k3s_gpu", "node")):
        return build
    tmp = tempfile.mkdtemp(prefix="k3s-gpu-node-collections-")
    os.makedirs(os.path.join(tmp, "ansible_collections", "k3s_gpu"))
    os.symlink(REPO_ROOT, os.path.join(tmp, "ansible_collections", "k3s_gpu", "node"))
    return tmp


def _installed_root():
    """The directory holding ansible_collections when the checkout is itself inside one
    (as ansible-test arranges it: .../ansible_collections/k3s_gpu/node)."""
    grandparent = os.path.dirname(os.path.dirname(REPO_ROOT))
    if os.path.basename(grandparent) == "ansible_collections":
        return os.path.dirname(grandparent)
    return None


_root = _collections_root()
# what a module's own process needs on PYTHONPATH to import the collection
COLLECTIONS_ROOT = _root or _installed_root()
if _root:
    sys.path.insert(0, _root)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_root, os.environ.get("PYTHONPATH")) if p)
    # ansible_collections may already be a namespace package (from the `ansible` bundle)
    import ansible_collections
    path = os.path.join(_root, "ansible_collections")
    if path not in list(ansible_collections.__path__):
        ansible_collections.__path__.append(path)


import json  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402

FIXTURES = os.path.join(REPO_ROOT, "tests", "unit", "fixtures")
GPU_RESULTS = os.path.join(REPO_ROOT, "tests", "gpu", "results")


@pytest.fixture
def fixture_path():
    def _path(*parts):
        return os.path.join(FIXTURES, *parts)
    return _path


@pytest.fixture
def fixture_text(fixture_path):
    """The text of a file under tests/unit/fixtures: fixture_text("nvidia-smi", "h100-1gpu-q.xml")."""
    def _read(*parts):
        with open(fixture_path(*parts), encoding="utf-8") as handle:
            return handle.read()
    return _read


@pytest.fixture
def run_module(tmp_path):
    """Run a module of the collection as Ansible's runner does (a process reading its args file).

    Returns (rc, result dict). `env` adds environment variables.
    """
    def _run(name, args, env=None, check_mode=False):
        module_args = dict(args)
        if check_mode:
            module_args["_ansible_check_mode"] = True
        args_file = tmp_path / ("%s-args.json" % name)
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": module_args}))
        run_env = dict(os.environ)
        if COLLECTIONS_ROOT:
            run_env["PYTHONPATH"] = os.pathsep.join(
                p for p in (COLLECTIONS_ROOT, run_env.get("PYTHONPATH")) if p)
        run_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, os.path.join(REPO_ROOT, "plugins", "modules", name + ".py"), str(args_file)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env, check=False, timeout=120)
        # Exactly one result: Ansible reads one JSON document from a module (a module that fails
        # in a thread and carries on would print two).
        text = proc.stdout.decode()
        try:
            result, end = json.JSONDecoder().raw_decode(text.lstrip())
        except ValueError:
            raise AssertionError("module %s printed no JSON (rc %s):\n%s\n%s"
                                 % (name, proc.returncode, text, proc.stderr.decode()))
        rest = text.lstrip()[end:].strip()
        if rest:
            raise AssertionError("module %s printed more than one result (rc %s):\n%s" % (name, proc.returncode, text))
        return proc.returncode, result
    return _run

"""The lab's vendor mirror, exercised with real apt on a real Debian 12 systemd container.

Acceptance of issue 3: apt pointed at the mirror with signed-by installs a stand-in and its
files; the same repository signed by an untrusted key fails with apt's signature error;
injected 404/500 faults and a mirror stopped mid-run fail the way a vendor outage does.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

import pytest
import yaml

from pytest_lab import REPO_ROOT

NCT = "/libnvidia-container/stable/deb/amd64/"
CUDA12 = "/compute/cuda/repos/debian12/x86_64/"
NCT_PKGS = ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools",
            "libnvidia-container1"]
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def fetch_in(c, url, dest):
    """Download inside the container (python3 is in the image; curl is not)."""
    c.exec(["python3", "-c", "import sys,urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])",
            url, dest])


def add_source(c, name, uri, keyring):
    c.write("/etc/apt/sources.list.d/%s.sources" % name,
            "Types: deb\nURIs: %s\nSuites: /\nSigned-By: %s\n" % (uri, keyring))


def apt_update(c):
    # Only the lab sources: the image's Debian sources would need the internet.
    return c.exec("apt-get update -o Dir::Etc::sourcelist=/dev/null 2>&1", check=False)


def nct_keyring(c, mirror, prefix=""):
    keyring = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
    fetch_in(c, mirror.url + prefix + "/libnvidia-container/gpgkey", "/tmp/gpgkey")
    c.exec("gpg --batch --yes --dearmor -o %s /tmp/gpgkey" % keyring)
    return keyring


@pytest.mark.parametrize("release", ["debian12", "debian13"])
def test_apt_installs_toolkit_standins_with_signed_by(lab_mirror, lab_container, release):
    c = lab_container(release)
    keyring = nct_keyring(c, lab_mirror)
    add_source(c, "nvidia-container-toolkit", lab_mirror.url + NCT, keyring)
    upd = apt_update(c)
    assert upd.returncode == 0 and "Err:" not in upd.stdout, upd.stdout
    policy = c.exec("apt-cache policy nvidia-container-toolkit").stdout
    assert "1.17.8-1" in policy and "1.20.0-1" in policy, policy

    pins = ["%s=1.17.8-1" % p for p in NCT_PKGS]
    c.exec(["apt-get", "install", "-y", "--no-install-recommends"] + pins, env=APT_ENV)
    for pkg in NCT_PKGS:
        status = c.exec(["dpkg-query", "-W", "-f", "${Version} ${Description}", pkg]).stdout
        assert status.startswith("1.17.8-1 STAND-IN for k3s_gpu.node tests:"), status
    for path in ("/usr/bin/nvidia-ctk", "/usr/bin/nvidia-container-runtime", "/usr/bin/nvidia-container-runtime-hook",
                 "/usr/bin/nvidia-container-cli", "/usr/bin/nvidia-cdi-hook"):
        c.exec(["test", "-x", path])
    c.exec(["test", "-f", "/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"])
    config = c.exec("cat /etc/nvidia-container-runtime/config.toml").stdout
    assert 'mode = "auto"' in config and "[nvidia-container-runtime]" in config
    assert "NVIDIA Container Toolkit CLI version 1.17.8" in c.exec("nvidia-ctk --version").stdout

    # nvidia-ctk (NVIDIA's own, built from the Go module) edits containerd's config.
    conf = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
    configure = "nvidia-ctk runtime configure --runtime=containerd --config=%s --set-as-default" % conf
    first = c.exec(configure)
    assert "Wrote updated config to %s" % conf in first.stderr
    text = c.exec("cat " + conf).stdout
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in text
    assert 'default_runtime_name = "nvidia"' in text and 'containerd.runtimes.nvidia' in text
    # The real tool rewrites the file every time: same content, so roles must compare content.
    c.exec(configure)
    assert c.exec("cat " + conf).stdout == text
    # Without a GPU, CDI generation fails like the real tool.
    cdi = c.exec("nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml", check=False)
    assert cdi.returncode != 0 and "failed to initialize NVML" in cdi.stderr, cdi

    # The upgrade path: all four packages move to the newer version together.
    c.exec(["apt-get", "install", "-y"] + ["%s=1.20.0-1" % p for p in NCT_PKGS], env=APT_ENV)
    assert "version 1.20.0" in c.exec("nvidia-ctk --version").stdout


@pytest.mark.parametrize("release", ["debian12", "debian13"])
def test_cuda_keyring_branch_pin_and_standins(lab_mirror, lab_container, release):
    c = lab_container(release)
    repo = "/compute/cuda/repos/%s/x86_64/" % release
    fetch_in(c, lab_mirror.url + repo + "cuda-keyring_1.1-1_all.deb", "/tmp/cuda-keyring.deb")
    c.exec("dpkg -i /tmp/cuda-keyring.deb")
    # Like the real package: the binary keyring and a list naming NVIDIA's own URL.
    c.exec("gpg --show-keys /usr/share/keyrings/cuda-archive-keyring.gpg | grep -q 'lab CUDA archive key'")
    vendor_list = c.exec("cat /etc/apt/sources.list.d/cuda-%s-x86_64.list" % release).stdout
    assert "https://developer.download.nvidia.com%s /" % repo in vendor_list
    c.exec("rm /etc/apt/sources.list.d/cuda-%s-x86_64.list" % release)
    add_source(c, "cuda", lab_mirror.url + repo, "/usr/share/keyrings/cuda-archive-keyring.gpg")
    upd = apt_update(c)
    assert upd.returncode == 0 and "Err:" not in upd.stdout, upd.stdout

    # The branch pin keeps the driver on 580 although 595 is newer.
    c.exec("apt-get install -y nvidia-driver-pinning-580", env=APT_ENV)
    c.exec("apt-get install -y nvidia-open cuda-toolkit-13-0 cuda-demo-suite-13-0", env=APT_ENV)
    versions = c.exec("dpkg-query -W -f '${Package}=${Version}\\n' nvidia-open nvidia-kernel-open-dkms "
                      "nvidia-driver-cuda nvidia-smi nvidia-persistenced").stdout.split()
    assert sorted(versions) == sorted("%s=580.105.08-1" % p for p in (
        "nvidia-open", "nvidia-kernel-open-dkms", "nvidia-driver-cuda", "nvidia-smi", "nvidia-persistenced")), versions
    # Switching to the proprietary kernel modules replaces the open ones (Conflicts).
    c.exec("apt-get install -y nvidia-kernel-dkms", env=APT_ENV)
    assert c.exec("dpkg-query -W -f '${Status}' nvidia-kernel-open-dkms", check=False).stdout.find(
        "install ok installed") < 0

    # No GPU: nvidia-smi and deviceQuery fail the way the real tools do.
    smi = c.exec("nvidia-smi", check=False)
    assert smi.returncode == 9 and "couldn't communicate with the NVIDIA driver" in smi.stdout
    dq = c.exec("/usr/local/cuda/extras/demo_suite/deviceQuery", check=False)
    assert dq.returncode == 1 and "Result = FAIL" in dq.stdout and "no CUDA-capable device" in dq.stdout
    assert "release 13.0" in c.exec("/usr/local/cuda/bin/nvcc --version").stdout
    # nvidia-persistenced's stand-in unit runs without a GPU.
    c.exec("systemctl enable --now nvidia-persistenced")
    assert c.exec("systemctl is-active nvidia-persistenced").stdout.strip() == "active"

    # The lab-only fake-GPU hook replays real captured outputs (a harness opts in; roles never do).
    fixture = os.path.join(REPO_ROOT, "tests", "unit", "fixtures", "nvidia-smi", "h100-1gpu-q.xml")
    c.exec("mkdir -p /etc/k3s-gpu-lab/fake-gpu")
    c.put(fixture, "/etc/k3s-gpu-lab/fake-gpu/nvidia-smi-q.xml")
    with open(fixture, encoding="utf-8") as f:
        assert c.exec("nvidia-smi -q -x").stdout == f.read()
    assert c.exec("/usr/local/cuda/extras/demo_suite/deviceQuery", check=False).returncode == 1


@pytest.mark.parametrize("release", ["debian12", "debian13"])
def test_untrusted_key_fails_with_apt_signature_error(lab_mirror, lab_container, release):
    c = lab_container(release)
    keyring = nct_keyring(c, lab_mirror)  # the trusted key...
    add_source(c, "untrusted", lab_mirror.url + "/untrusted" + NCT, keyring)  # ...a repo signed by another
    upd = apt_update(c)
    # apt 2.6 (Debian 12) verifies with gpgv, apt 3.0 (Debian 13) with sqv: different words.
    if release == "debian12":
        assert "The following signatures couldn't be verified" in upd.stdout and "NO_PUBKEY" in upd.stdout, upd.stdout
    else:
        assert "OpenPGP signature verification failed" in upd.stdout and "Missing key" in upd.stdout, upd.stdout
    assert "is not signed" in upd.stdout, upd.stdout
    install = c.exec("apt-get install -y nvidia-container-toolkit 2>&1", check=False, env=APT_ENV)
    assert install.returncode != 0
    assert "Unable to locate package nvidia-container-toolkit" in install.stdout, install.stdout


def test_injected_404_and_500(lab_mirror, lab_container):
    c = lab_container("debian12")
    keyring = nct_keyring(c, lab_mirror)
    add_source(c, "nvidia-container-toolkit", lab_mirror.url + NCT, keyring)
    lab_mirror.fault("status", NCT, "404")
    try:
        upd = apt_update(c)
        assert "404" in upd.stdout and "Err:" in upd.stdout, upd.stdout
        assert "nvidia-container-toolkit" not in c.exec("apt-cache pkgnames nvidia-container", check=False).stdout
        lab_mirror.fault("status", "/k3s-io/", "500")
        with pytest.raises(urllib.error.HTTPError) as err:
            lab_mirror.get("/k3s-io/k3s/releases/download/v1.36.3+k3s1/k3s")
        assert err.value.code == 500
    finally:
        lab_mirror.fault("clear")
    upd = apt_update(c)
    assert upd.returncode == 0 and "Err:" not in upd.stdout, upd.stdout
    with open(os.path.join(lab_mirror.state, "access.log"), encoding="utf-8") as f:
        log = f.read()
    assert " 404\n" in log and " 500\n" in log


def test_injected_delay(lab_mirror):
    lab_mirror.fault("delay", "/helm/", "1.5")
    try:
        start = time.monotonic()
        lab_mirror.get("/helm/nvidia/index.yaml")
        assert time.monotonic() - start >= 1.5
        start = time.monotonic()
        lab_mirror.get("/libnvidia-container/gpgkey")
        assert time.monotonic() - start < 1.0
    finally:
        lab_mirror.fault("clear")


def test_mirror_stopped_mid_run(tmp_path):
    from pytest_lab import Mirror  # pylint: disable=import-outside-toplevel

    mirror = Mirror(str(tmp_path / "state"))
    mirror.start()
    try:
        assert mirror.get("/helm/nvidia/index.yaml").startswith(b"apiVersion: v1")
        pid = open(os.path.join(mirror.state, "pid"), encoding="utf-8").read().strip()
    finally:
        mirror.stop()
    assert not os.path.exists(os.path.join(mirror.state, "pid"))
    assert not os.path.exists("/proc/%s" % pid) or "server.py" not in open("/proc/%s/cmdline" % pid).read()
    with pytest.raises(urllib.error.URLError):
        mirror.get("/helm/nvidia/index.yaml", timeout=3)


def test_k3s_release_checksums(lab_mirror):
    base = "/k3s-io/k3s/releases/download/"
    for version in ("v1.36.2+k3s1", "v1.36.3+k3s1", "v1.36.4+k3s1"):
        sums = dict(line.split()[::-1] for line in lab_mirror.get(base + version + "/sha256sum-amd64.txt")
                    .decode().splitlines())
        assert set(sums) >= {"k3s", "k3s-airgap-images-amd64.tar.zst"}
        for name in ("k3s", "k3s-airgap-images-amd64.tar.zst"):
            # GitHub URLs carry "+" as %2B; the mirror accepts both.
            data = lab_mirror.get(base + version.replace("+", "%2B") + "/" + name)
            assert hashlib.sha256(data).hexdigest() == sums[name], (version, name)
    bad = "v1.36.99+k3s1"
    sums = dict(line.split()[::-1] for line in lab_mirror.get(base + bad + "/sha256sum-amd64.txt").decode().splitlines())
    assert hashlib.sha256(lab_mirror.get(base + bad + "/k3s")).hexdigest() != sums["k3s"]


def test_helm_repository_index_and_charts(lab_mirror):
    index = lab_mirror.get("/helm/nvidia/index.yaml").decode()
    for version in ("v25.3.4", "v26.3.3", "v26.7.0"):
        assert "version: %s" % version in index
        tgz = lab_mirror.get("/helm/nvidia/charts/gpu-operator-%s.tgz" % version)
        assert "digest: %s" % hashlib.sha256(tgz).hexdigest() in index
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(tgz))) as tf:
            names = tf.getnames()
            chart = tf.extractfile("gpu-operator/Chart.yaml").read().decode()
            values = tf.extractfile("gpu-operator/values.yaml").read().decode()
        assert "gpu-operator/templates/deployment.yaml" in names
        assert "version: %s" % version in chart and "STAND-IN" in chart
        for key in ("defaultRuntime:", "driver:", "toolkit:", "cdi:", "daemonsets:", "tolerations:"):
            assert key in values


def find_helm():
    for path in (os.path.join(REPO_ROOT, ".tmp", "kube", "bin", "helm"),):
        if os.access(path, os.X_OK):
            return os.path.abspath(path)
    return None


def test_real_helm_renders_standin_chart_from_mirror(lab_mirror, tmp_path):
    helm = find_helm()
    if helm is None:
        pytest.skip("helm not built: run tests/lab/kube/build.sh")
    env = dict(os.environ, HELM_CACHE_HOME=str(tmp_path / "cache"), HELM_CONFIG_HOME=str(tmp_path / "config"),
               HELM_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.run(
        [helm, "template", "gpu-operator", "gpu-operator", "--repo", lab_mirror.url + "/helm/nvidia",
         "--version", "v26.7.0", "--namespace", "gpu-operator", "--set", "driver.enabled=false",
         "--set", "toolkit.enabled=false", "--set", "operator.defaultRuntime=containerd",
         "--set-string", "toolkit.env[0].name=CONTAINERD_SOCKET",
         "--set-string", "toolkit.env[0].value=/run/k3s/containerd/containerd.sock"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"], d["metadata"]["namespace"]) for d in docs}
    assert ("Deployment", "gpu-operator", "gpu-operator") in kinds
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    values = yaml.safe_load(cm["data"]["values.yaml"])
    assert cm["data"]["chartVersion"] == "v26.7.0"
    assert values["driver"]["enabled"] is False and values["toolkit"]["enabled"] is False
    assert values["operator"]["defaultRuntime"] == "containerd"
    assert values["toolkit"]["env"] == [{"name": "CONTAINERD_SOCKET", "value": "/run/k3s/containerd/containerd.sock"}]
    assert values["daemonsets"]["tolerations"][0]["key"] == "nvidia.com/gpu"

"""Build the lab's vendor mirror tree: stand-in packages, signed flat apt repositories,
K3s release assets and a Helm chart repository, laid out like the vendors' (LAYOUT.md).

Called by build.sh, which decides the output directory (keyed on the inputs' hash) and
passes the k3s stand-in binaries it built. Everything here is a STAND-IN; each package's
Description starts with "STAND-IN for k3s_gpu.node tests:".

Usage: build_mirror.py OUT_DIR GNUPGHOME K3S_BIN_DIR NCT_BIN_DIR
  K3S_BIN_DIR/<version>/k3s          the k3s stand-ins
  NCT_BIN_DIR/<upstream version>/    the real NVIDIA container toolkit Go commands
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(os.path.dirname(HERE), "standins")
STANDIN = "STAND-IN for k3s_gpu.node tests:"
MAINTAINER = "k3s_gpu.node lab <lab@k3s-gpu-node.invalid>"
EPOCH = 1764201600  # fixed mtime (2025-11-27) so rebuilt files have stable checksums

# Signing keys (uid -> file stem). Generated once per cache by build.sh's GNUPGHOME.
KEY_CUDA = "k3s_gpu.node lab CUDA archive key"
KEY_NCT = "k3s_gpu.node lab libnvidia-container key"
KEY_UNTRUSTED = "k3s_gpu.node lab UNTRUSTED key"

# --- versions (sources cited in LAYOUT.md) -------------------------------------------
# Driver branches 580 and 595; 595.58.03 / 595.71.05 ship with the CUDA 13.2.1 / 13.2.2
# runfiles (pytorch/pytorch#196351). 580.95.05 and 580.105.08 are 580 production releases.
DRIVERS = {"580": ["580.95.05", "580.105.08"], "595": ["595.58.03", "595.71.05"]}
DRIVER_CUDA = {"580": "13.0", "595": "13.2"}
# CUDA toolkits: 13.0.3, 13.2.2 and 13.3.1 (2026 releases, Jimver/cuda-toolkit#445).
TOOLKITS = ["13.0.3", "13.2.2", "13.3.1"]
CUDA_DISTROS = ["debian12", "debian13"]
# NVIDIA container toolkit: 1.17.8 (the article's) and 1.20.0 (NVIDIA/nvidia-container-toolkit#1977).
NCT_VERSIONS = [("1.17.8", "f202b80a"), ("1.20.0", "c5ba4b2e")]
# gpu-operator chart versions (NVIDIA/gpu-operator#1708 v25.3.4, #2581 v26.3.3, #2783 v26.7.0).
CHARTS = ["v25.3.4", "v26.3.3", "v26.7.0"]

DRIVER_PKGS = ["nvidia-open", "cuda-drivers", "nvidia-driver", "nvidia-driver-cuda",
               "nvidia-kernel-open-dkms", "nvidia-kernel-dkms", "nvidia-smi",
               "nvidia-persistenced", "libcuda1"]


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def template(name, **subst):
    with open(os.path.join(STANDINS, "bin", name), encoding="utf-8") as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace("@%s@" % k, v)
    return text


def standin_text(what):
    return "%s %s\nThis file is a placeholder built by tests/lab/mirror/build_mirror.py.\n" % (STANDIN, what)


def build_deb(out_dir, name, version, arch, summary, long_desc="", files=None, links=None,
              depends=None, provides=None, conflicts=None, replaces=None, conffiles=None,
              postinst=None, prerm=None, section="multiverse/devel"):
    """Build NAME_VERSION_ARCH.deb with dpkg-deb. files: {path: (text|bytes, mode)}."""
    with tempfile.TemporaryDirectory() as root:
        for path, (content, mode) in (files or {}).items():
            dest = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
            os.chmod(dest, mode)
        for path, target in (links or {}).items():
            dest = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.symlink(target, dest)
        doc = os.path.join(root, "usr/share/doc", name)
        os.makedirs(doc, exist_ok=True)
        with open(os.path.join(doc, "README.stand-in"), "w", encoding="utf-8") as f:
            f.write(standin_text("%s %s" % (name, version)))
        debian = os.path.join(root, "DEBIAN")
        os.makedirs(debian)
        desc = "%s %s" % (STANDIN, summary)
        body = (long_desc or "Built locally for the k3s_gpu.node lab; it carries no vendor code.").strip()
        control = [
            "Package: %s" % name,
            "Version: %s" % version,
            "Architecture: %s" % arch,
            "Maintainer: %s" % MAINTAINER,
            "Section: %s" % section,
            "Priority: optional",
        ]
        for field, value in (("Depends", depends), ("Provides", provides),
                             ("Conflicts", conflicts), ("Replaces", replaces)):
            if value:
                control.append("%s: %s" % (field, ", ".join(value)))
        control.append("Description: %s" % desc)
        control += [" " + line if line else " ." for line in body.splitlines()]
        with open(os.path.join(debian, "control"), "w", encoding="utf-8") as f:
            f.write("\n".join(control) + "\n")
        if conffiles:
            with open(os.path.join(debian, "conffiles"), "w", encoding="utf-8") as f:
                f.write("".join(c + "\n" for c in conffiles))
        for script, text in (("postinst", postinst), ("prerm", prerm)):
            if text:
                p = os.path.join(debian, script)
                with open(p, "w", encoding="utf-8") as f:
                    f.write("#!/bin/sh\nset -e\n" + text.strip() + "\n")
                os.chmod(p, 0o755)
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                os.utime(os.path.join(dirpath, n), (EPOCH, EPOCH), follow_symlinks=False)
        deb = os.path.join(out_dir, "%s_%s_%s.deb" % (name, version, arch))
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH))
        run("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", root, deb,
            stdout=subprocess.DEVNULL, env=env)
    return deb


# ---------------------------------------------------------------- signing
def export_key(gnupghome, uid, armor):
    args = ["gpg", "--homedir", gnupghome, "--batch", "--export"] + (["--armor"] if armor else []) + [uid]
    return subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout


def make_flat_repo(repo_dir, gnupghome, uid, origin, label):
    """Packages, Packages.gz, Release, Release.gpg, InRelease for a flat repository."""
    pk = subprocess.run(["apt-ftparchive", "packages", "."], cwd=repo_dir, check=True,
                        stdout=subprocess.PIPE).stdout
    with open(os.path.join(repo_dir, "Packages"), "wb") as f:
        f.write(pk)
    with gzip.GzipFile(os.path.join(repo_dir, "Packages.gz"), "wb", mtime=EPOCH) as f:
        f.write(pk)
    for stale in ("Release", "Release.gpg", "InRelease"):
        if os.path.exists(os.path.join(repo_dir, stale)):
            os.remove(os.path.join(repo_dir, stale))
    rel = subprocess.run(["apt-ftparchive",
                          "-o", "APT::FTPArchive::Release::Origin=%s" % origin,
                          "-o", "APT::FTPArchive::Release::Label=%s" % label,
                          "-o", "APT::FTPArchive::Release::Description=%s %s repository" % (STANDIN, label),
                          "release", "."], cwd=repo_dir, check=True, stdout=subprocess.PIPE).stdout
    with open(os.path.join(repo_dir, "Release"), "wb") as f:
        f.write(rel)
    gpg = ["gpg", "--homedir", gnupghome, "--batch", "--yes", "--local-user", uid, "--digest-algo", "SHA512"]
    run(*gpg, "--armor", "--detach-sign", "--output", os.path.join(repo_dir, "Release.gpg"),
        os.path.join(repo_dir, "Release"))
    run(*gpg, "--clearsign", "--output", os.path.join(repo_dir, "InRelease"),
        os.path.join(repo_dir, "Release"))


# ---------------------------------------------------------------- CUDA repository
def driver_debs(pool, ver, branch):
    """The driver packages of one version (architecture amd64)."""
    v = ver + "-1"

    def eq(package):
        return "%s (= %s)" % (package, v)

    subst = dict(VERSION=v, UPSTREAM=ver, NVML=ver.split(".")[0] + "." + ver.split(".")[1],
                 DRIVER_CUDA=DRIVER_CUDA[branch])
    build_deb(pool, "nvidia-open", v, "amd64", "NVIDIA Driver meta-package, Open GPU kernel modules",
              depends=[eq("nvidia-driver"), eq("nvidia-kernel-open-dkms")], section="NVIDIA")
    build_deb(pool, "cuda-drivers", v, "amd64", "CUDA Driver meta-package, proprietary kernel modules",
              depends=[eq("nvidia-driver"), eq("nvidia-kernel-dkms")], section="NVIDIA")
    build_deb(pool, "nvidia-driver", v, "amd64", "NVIDIA metapackage",
              depends=[eq("nvidia-driver-cuda")], section="NVIDIA")
    build_deb(pool, "nvidia-driver-cuda", v, "amd64", "NVIDIA driver CUDA integration components",
              depends=[eq("nvidia-smi"), eq("nvidia-persistenced"), eq("libcuda1")], section="NVIDIA")
    for name, flavour, other in (("nvidia-kernel-open-dkms", "open", "nvidia-kernel-dkms"),
                                 ("nvidia-kernel-dkms", "proprietary", "nvidia-kernel-open-dkms")):
        dkms_conf = ('# %s\nPACKAGE_NAME="nvidia"\nPACKAGE_VERSION="%s"\n# flavour: %s kernel modules; '
                     'the stand-in builds nothing.\n' % (STANDIN, ver, flavour))
        build_deb(pool, name, v, "amd64", "NVIDIA binary kernel module DKMS source (%s flavor)" % flavour,
                  files={"/usr/src/nvidia-%s/dkms.conf" % ver: (dkms_conf, 0o644)},
                  provides=["nvidia-kernel-dkms-any (= %s)" % v],
                  conflicts=[other], replaces=[other], section="NVIDIA")
    build_deb(pool, "nvidia-smi", v, "amd64", "NVIDIA System Management Interface",
              files={"/usr/bin/nvidia-smi": (template("nvidia-smi", **subst), 0o755)}, section="NVIDIA")
    unit = ("# %s nvidia-persistenced.service\n[Unit]\nDescription=NVIDIA Persistence Daemon (STAND-IN for "
            "k3s_gpu.node tests)\nWants=syslog.target\n\n[Service]\nType=simple\n"
            "ExecStart=/usr/bin/nvidia-persistenced --stand-in-foreground\n\n[Install]\n"
            "WantedBy=multi-user.target\n" % STANDIN)
    build_deb(pool, "nvidia-persistenced", v, "amd64", "daemon to maintain persistent software state in the "
              "NVIDIA driver", long_desc="The stand-in daemon stays in the foreground doing nothing, so the\n"
              "unit is active in a lab container without a GPU. The package does not enable it.",
              files={"/usr/bin/nvidia-persistenced": (template("nvidia-persistenced", **subst), 0o755),
                     "/lib/systemd/system/nvidia-persistenced.service": (unit, 0o644)}, section="NVIDIA")
    build_deb(pool, "libcuda1", v, "amd64", "NVIDIA CUDA Driver Library",
              files={"/usr/lib/x86_64-linux-gnu/libcuda.so.%s" % ver: (standin_text("libcuda " + ver), 0o644)},
              links={"/usr/lib/x86_64-linux-gnu/libcuda.so.1": "libcuda.so.%s" % ver}, section="NVIDIA")


def pinning_deb(pool, branch):
    pkgs = " ".join(DRIVER_PKGS)
    prefs = ("# %s nvidia-driver-pinning-%s\n# Keeps the NVIDIA driver packages on branch %s.\n"
             "Package: %s\nPin: version %s.*\nPin-Priority: 1000\n" % (STANDIN, branch, branch, pkgs, branch))
    build_deb(pool, "nvidia-driver-pinning-%s" % branch, "%s-1" % branch, "all",
              "NVIDIA driver version locking to branch %s" % branch,
              files={"/etc/apt/preferences.d/nvidia-driver-pinning-%s" % branch: (prefs, 0o644)},
              conffiles=["/etc/apt/preferences.d/nvidia-driver-pinning-%s" % branch], section="NVIDIA")


def version_pinning_deb(pool, ver):
    """nvidia-driver-pinning-<version>: NVIDIA's version locking to one driver version (the
    Driver Installation Guide's "Version locking"; the package name as NVIDIA's CUDA repository
    names them, the preferences file's name and content are the lab's: apt reads files of
    preferences.d without an extension or with .pref, apt_preferences(5))."""
    pkgs = " ".join(DRIVER_PKGS)
    path = "/etc/apt/preferences.d/nvidia-driver-pinning-%s.pref" % ver
    prefs = ("# %s nvidia-driver-pinning-%s\n# Keeps the NVIDIA driver packages at version %s.\n"
             "Package: %s\nPin: version %s-*\nPin-Priority: 1000\n" % (STANDIN, ver, ver, pkgs, ver))
    build_deb(pool, "nvidia-driver-pinning-%s" % ver, "%s-1" % ver, "all",
              "NVIDIA driver version locking to version %s" % ver,
              files={path: (prefs, 0o644)}, conffiles=[path], section="NVIDIA")


def toolkit_debs(pool, cuda):
    mm = ".".join(cuda.split(".")[:2])
    pkg = mm.replace(".", "-")
    v = cuda + "-1"
    prefix = "/usr/local/cuda-%s" % mm
    subst = dict(CUDA=cuda, CUDA_MM=mm, CUDA_PKG=pkg)
    version_json = json.dumps({"cuda": {"name": "CUDA SDK", "version": cuda},
                               "x-k3s-gpu-lab": STANDIN}, indent=2) + "\n"
    prio = str(int(mm.replace(".", "")) * 10)
    postinst = ('if [ "$1" = configure ]; then\n'
                '  update-alternatives --install /usr/local/cuda cuda %s %s\n'
                '  update-alternatives --install /usr/local/cuda-13 cuda-13 %s %s\nfi' % (prefix, prio, prefix, prio))
    prerm = ('if [ "$1" = remove ] || [ "$1" = deconfigure ]; then\n'
             '  update-alternatives --remove cuda %s\n  update-alternatives --remove cuda-13 %s\nfi'
             % (prefix, prefix))
    build_deb(pool, "cuda-toolkit-%s" % pkg, v, "amd64", "CUDA Toolkit %s meta-package" % mm,
              files={prefix + "/bin/nvcc": (template("nvcc", **subst), 0o755),
                     prefix + "/version.json": (version_json, 0o644)},
              postinst=postinst, prerm=prerm, section="multiverse/devel")
    build_deb(pool, "cuda-demo-suite-%s" % pkg, v, "amd64", "Demo suite for CUDA %s (deviceQuery)" % mm,
              files={prefix + "/extras/demo_suite/deviceQuery": (template("deviceQuery", **subst), 0o755)},
              section="multiverse/devel")


def keyring_deb(pool, distro, gnupghome):
    # The real cuda-keyring ships the binary keyring and a .list naming NVIDIA's URL.
    real = "https://developer.download.nvidia.com/compute/cuda/repos/%s/x86_64/" % distro
    lst = "deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] %s /\n" % real
    build_deb(pool, "cuda-keyring", "1.1-1", "all", "GPG keyring for the CUDA repository",
              long_desc="Installs the lab CUDA test key as /usr/share/keyrings/cuda-archive-keyring.gpg\n"
                        "and, like the real package, a sources list naming NVIDIA's own URL.",
              files={"/usr/share/keyrings/cuda-archive-keyring.gpg": (export_key(gnupghome, KEY_CUDA, False), 0o644),
                     "/etc/apt/sources.list.d/cuda-%s-x86_64.list" % distro: (lst, 0o644)},
              conffiles=["/etc/apt/sources.list.d/cuda-%s-x86_64.list" % distro], section="NVIDIA")


def build_cuda(www, gnupghome, shared_pool):
    os.makedirs(shared_pool)
    for branch, versions in DRIVERS.items():
        for ver in versions:
            driver_debs(shared_pool, ver, branch)
            version_pinning_deb(shared_pool, ver)
        pinning_deb(shared_pool, branch)
    for cuda in TOOLKITS:
        toolkit_debs(shared_pool, cuda)
    for distro in CUDA_DISTROS:
        for prefix, uid in (("", KEY_CUDA), ("untrusted/", KEY_UNTRUSTED)):
            repo = os.path.join(www, prefix + "compute/cuda/repos/%s/x86_64" % distro)
            os.makedirs(repo)
            for deb in os.listdir(shared_pool):
                os.link(os.path.join(shared_pool, deb), os.path.join(repo, deb))
            keyring_deb(repo, distro, gnupghome)
            make_flat_repo(repo, gnupghome, uid, "NVIDIA", "NVIDIA CUDA")


# ---------------------------------------------------------------- container toolkit
def real_bin(nct_bin_dir, upstream, name):
    with open(os.path.join(nct_bin_dir, upstream, name), "rb") as f:
        return f.read()


def build_nct(www, gnupghome, tmp, nct_bin_dir):
    pool = os.path.join(tmp, "nct-pool")
    os.makedirs(pool)
    for upstream, commit in NCT_VERSIONS:
        v = upstream + "-1"
        subst = dict(VERSION=v, UPSTREAM=upstream, COMMIT=commit)
        # The default config.toml of this version, as its own nvidia-ctk writes it.
        default_config = subprocess.run([os.path.join(nct_bin_dir, upstream, "nvidia-ctk"), "config", "default"],
                                        check=True, stdout=subprocess.PIPE).stdout
        lib = "/usr/lib/x86_64-linux-gnu/libnvidia-container.so.%s" % upstream
        build_deb(pool, "libnvidia-container1", v, "amd64", "NVIDIA container runtime library",
                  files={lib: (standin_text("libnvidia-container " + upstream), 0o644)},
                  links={"/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1": os.path.basename(lib)},
                  section="libs")
        build_deb(pool, "libnvidia-container-tools", v, "amd64", "NVIDIA container runtime library "
                  "(command-line tools)",
                  files={"/usr/bin/nvidia-container-cli": (template("nvidia-container-cli", **subst), 0o755)},
                  depends=["libnvidia-container1 (>= %s)" % v, "libnvidia-container1 (<< 2.0.0)"], section="utils")

        def real(name, upstream=upstream):
            return real_bin(nct_bin_dir, upstream, name)

        build_deb(pool, "nvidia-container-toolkit-base", v, "amd64", "NVIDIA Container Toolkit Base",
                  long_desc="The package is a stand-in, its commands are NVIDIA's own: nvidia-ctk,\n"
                            "nvidia-container-runtime and nvidia-cdi-hook built from the Go module\n"
                            "github.com/NVIDIA/nvidia-container-toolkit at v%s." % upstream,
                  files={"/usr/bin/nvidia-ctk": (real("nvidia-ctk"), 0o755),
                         "/usr/bin/nvidia-container-runtime": (real("nvidia-container-runtime"), 0o755),
                         "/usr/bin/nvidia-cdi-hook": (real("nvidia-cdi-hook"), 0o755),
                         "/etc/nvidia-container-runtime/config.toml": (default_config, 0o644)},
                  conffiles=["/etc/nvidia-container-runtime/config.toml"], section="utils")
        build_deb(pool, "nvidia-container-toolkit", v, "amd64", "NVIDIA Container toolkit",
                  long_desc="The package is a stand-in; nvidia-container-runtime-hook is NVIDIA's own,\n"
                            "built from github.com/NVIDIA/nvidia-container-toolkit at v%s." % upstream,
                  files={"/usr/bin/nvidia-container-runtime-hook": (real("nvidia-container-runtime-hook"), 0o755)},
                  depends=["nvidia-container-toolkit-base (= %s)" % v, "libnvidia-container-tools (>= %s)" % v,
                           "libnvidia-container-tools (<< 2.0.0)"], section="utils")
    for prefix, uid in (("", KEY_NCT), ("untrusted/", KEY_UNTRUSTED)):
        base = os.path.join(www, prefix + "libnvidia-container")
        repo = os.path.join(base, "stable/deb/amd64")
        os.makedirs(repo)
        for deb in os.listdir(pool):
            os.link(os.path.join(pool, deb), os.path.join(repo, deb))
        make_flat_repo(repo, gnupghome, uid, "NVIDIA", "NVIDIA Container Toolkit")
        with open(os.path.join(base, "gpgkey"), "wb") as f:
            f.write(export_key(gnupghome, uid, True))
        with open(os.path.join(base, "stable/deb/nvidia-container-toolkit.list"), "w", encoding="utf-8") as f:
            f.write("deb https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /\n")


# ---------------------------------------------------------------- K3s releases
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tar_bytes(members, compress):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = EPOCH
            tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    if compress == "gz":
        return gzip.compress(raw, mtime=EPOCH)
    if compress == "zst":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, check=True, stdout=subprocess.PIPE).stdout
    return raw


def build_k3s(www, k3s_bin_dir):
    root = os.path.join(www, "k3s-io/k3s/releases/download")
    releases = sorted(os.listdir(k3s_bin_dir))
    for version in releases:
        d = os.path.join(root, version)
        os.makedirs(d)
        shutil.copy(os.path.join(k3s_bin_dir, version, "k3s"), os.path.join(d, "k3s"))
        os.chmod(os.path.join(d, "k3s"), 0o755)
        images = ("# %s airgap image list for k3s %s\ndocker.io/rancher/mirrored-pause:3.6\n" % (STANDIN, version))
        with open(os.path.join(d, "k3s-images.txt"), "w", encoding="utf-8") as f:
            f.write(images)
        member = [("STAND-IN-README.txt", standin_text("airgap images of k3s " + version).encode())]
        for ext in ("gz", "zst"):
            with open(os.path.join(d, "k3s-airgap-images-amd64.tar." + ext), "wb") as f:
                f.write(tar_bytes(member, ext))
        lines = []
        for name in ("k3s", "k3s-airgap-images-amd64.tar.gz", "k3s-airgap-images-amd64.tar.zst", "k3s-images.txt"):
            digest = sha256(os.path.join(d, name))
            if name == "k3s" and version.startswith("v1.36.99+"):
                digest = hashlib.sha256(b"bad checksum release " + version.encode()).hexdigest()
            lines.append("%s  %s" % (digest, name))
        with open(os.path.join(d, "sha256sum-amd64.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- Helm chart repository
def build_helm(www):
    base = os.path.join(www, "helm/nvidia")
    charts = os.path.join(base, "charts")
    os.makedirs(charts)
    src = os.path.join(STANDINS, "gpu-operator")
    entries = []
    for version in CHARTS:
        chart_yaml = template_file(os.path.join(src, "Chart.yaml"), VERSION=version)
        members = [("gpu-operator/Chart.yaml", chart_yaml.encode())]
        for rel in ("values.yaml", "templates/deployment.yaml", "templates/values-configmap.yaml",
                    "templates/_helpers.tpl", "templates/NOTES.txt"):
            with open(os.path.join(src, rel), "rb") as f:
                members.append(("gpu-operator/" + rel, f.read()))
        tgz = os.path.join(charts, "gpu-operator-%s.tgz" % version)
        with open(tgz, "wb") as f:
            f.write(tar_bytes(members, "gz"))
        entries.append((version, sha256(tgz)))
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))
    lines = ["apiVersion: v1", "entries:", "  gpu-operator:"]
    for version, digest in reversed(entries):
        lines += [
            "  - apiVersion: v2",
            "    appVersion: %s" % version,
            "    created: \"%s\"" % created,
            "    description: \"%s NVIDIA GPU Operator chart (renders a Deployment and a ConfigMap of its values)\""
            % STANDIN,
            "    digest: %s" % digest,
            "    kubeVersion: '>= 1.16.0-0'",
            "    name: gpu-operator",
            "    urls:",
            "    - charts/gpu-operator-%s.tgz" % version,
            "    version: %s" % version,
        ]
    lines.append("generated: \"%s\"" % created)
    with open(os.path.join(base, "index.yaml"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def template_file(path, **subst):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace("@%s@" % k, v)
    return text


def build_keys(www, gnupghome):
    keys = os.path.join(www, "lab/keys")
    os.makedirs(keys)
    for stem, uid in (("cuda-archive-keyring", KEY_CUDA), ("nvidia-container-toolkit-keyring", KEY_NCT),
                      ("untrusted", KEY_UNTRUSTED)):
        with open(os.path.join(keys, stem + ".gpg"), "wb") as f:
            f.write(export_key(gnupghome, uid, False))
        with open(os.path.join(keys, stem + ".asc"), "wb") as f:
            f.write(export_key(gnupghome, uid, True))


def main(argv):
    out, gnupghome, k3s_bin_dir, nct_bin_dir = argv[1:5]
    www = os.path.join(out, "www")
    tmp = os.path.join(out, "build-tmp")
    os.makedirs(www)
    os.makedirs(tmp)
    t0 = time.time()
    build_keys(www, gnupghome)
    build_cuda(www, gnupghome, os.path.join(tmp, "cuda-pool"))
    t1 = time.time()
    build_nct(www, gnupghome, tmp, nct_bin_dir)
    build_k3s(www, k3s_bin_dir)
    build_helm(www)
    shutil.rmtree(tmp)
    print("mirror tree: cuda %.1fs, rest %.1fs" % (t1 - t0, time.time() - t1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

# -*- coding: utf-8 -*-
# Copyright (c) 2026, k3s_gpu.node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bad-input table of the reliability matrix.

Each case is one bad input given to one role, module or the site playbook, with every
other input valid, and the regular expression its failure message must match: the
message must name the input and say what to do. The tests (test_bad_inputs.py) run each
case and check that the run failed, with that message, before changing anything:
the node's files, packages and units, and the API objects, are compared before and after.

``runner`` says where a case runs:

- ``node``: on the shared Debian 12 lab container, through the podman connection, all
  ``node`` cases in one ansible-playbook run, each case an inventory host of its own
  (every host is the same container) with the case's variables as host variables;
- ``api``: on the controller (localhost) against the real kube-apiserver, batched the
  same way;
- ``site``: playbooks/site.yml with an inventory of its own (gpu_nodes = the lab
  container, controller = localhost);
- ``alone``: a case that needs the node prepared for it (secure boot on, another OS),
  run alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NODE_STATE = "files under /etc, /usr/local/bin, /var/lib/rancher (sha256, mode, owner); dpkg packages; enabled and active units"
API_STATE = ("namespaces, nodes (taints, labels), pods, secrets (Helm releases), config maps, deployments, daemon sets, "
             "runtime classes, persistent volume claims, services, ingresses")
BOTH_STATE = NODE_STATE + "; " + API_STATE

# A valid K3s join (the lab's fake server name; preflight never contacts it).
K3S_OK = {
    "k3s_agent_server_url": "https://k3s.lab.invalid:6443",
    "k3s_agent_token": "K10reliabilitybadinput::server:0123456789abcdef",
    # No API server behind that name: a pinned release, not compared with the server's.
    "k3s_agent_version": "v1.36.3+k3s1",
    "k3s_agent_version_check": False,
}
# The fingerprints of the lab mirror's TEST keys (tests/lab/mirror/keys/README.md).
LAB_CUDA_KEY = "B56699BE8F2F7F5AE0321882F997EB588C11D826"
LAB_NCT_KEY = "0E7F3E263BDD6999F4930BA11D6D71E2EBFBF3B4"
LAB_UNTRUSTED_KEY = "BECFEA2B7D1AC902E290D69916D582F17A511587"
# cuda_driver with everything valid except what the case breaks; no GPU check unless asked,
# no Debian archive components (the lab mirror serves NVIDIA's repository only).
CUDA_OK = {
    "cuda_driver_keyring_fingerprints": [LAB_CUDA_KEY],
    "cuda_driver_require_gpu": False,
    "cuda_driver_manage_distro_components": False,
    "cuda_driver_install_headers": False,
    "cuda_driver_reboot_allowed": False,
}


@dataclass(frozen=True)
class BadInput:
    id: str
    target: str  # role / module / playbook under test
    shown: str  # the input, as the table shows it
    expect: str  # regex (re.S | re.I) the failure message must match
    runner: str = "node"  # node, api, site, alone
    kind: str = "role"  # role, or the module name for module cases
    vars: dict = field(default_factory=dict)  # the case's variables (role) or module arguments
    note: str = ""
    # The role changes the node before it can tell (the repository must be added to list its
    # branches) and rolls its own changes back: tasks may report changes, the state must match.
    rollback: bool = False

    @property
    def state(self) -> str:
        return {"node": NODE_STATE, "alone": NODE_STATE, "api": API_STATE, "site": BOTH_STATE}[self.runner]


def _k3s(case_id, shown, expect, **overrides):
    v = dict(K3S_OK)
    v.update(overrides)
    for k in [k for k, val in v.items() if val is _MISSING]:
        del v[k]
    return BadInput(case_id, "k3s_agent", shown, expect, vars=v)


def _cuda(case_id, shown, expect, runner="node", rollback=False, **overrides):
    v = dict(CUDA_OK)
    v.update(overrides)
    for k in [k for k, val in v.items() if val is _MISSING]:
        del v[k]
    # A case that changes the node (and rolls back) runs alone, with a snapshot of its own.
    return BadInput(case_id, "cuda_driver", shown, expect, runner="alone" if rollback else runner, vars=v,
                    rollback=rollback,
                    note="added the repository, then removed it (rollback)" if rollback else "")


def _ctk(case_id, shown, expect, runner="node", rollback=False, **overrides):
    return BadInput(case_id, "container_toolkit", shown, expect, runner="alone" if rollback else runner,
                    vars=overrides, rollback=rollback,
                    note="added the repository, then removed it (rollback)" if rollback else "")


def _op(case_id, shown, expect, **overrides):
    # gpu_operator_chart_repo_url, helm binary, kubeconfig and namespace come from the test.
    return BadInput(case_id, "gpu_operator", shown, expect, runner="api", vars=overrides)


def _ws(case_id, shown, expect, workspaces, **overrides):
    # gpu_workspace_kubeconfig, the image and a short wait come from the test (case_host_vars).
    return BadInput(case_id, "gpu_workspace", shown, expect, runner="api",
                    vars=dict(overrides, gpu_workspace_workspaces=workspaces))


def _mod(case_id, module, shown, expect, runner, args):
    return BadInput(case_id, module, shown, expect, runner=runner, kind=module, vars=args)


_MISSING = object()
# A workspace password of the gpu_workspace cases; test_bad_inputs checks it never reaches the output.
WS_PASSWORD = "rel-ws-password-8c1e0f5d"
# Stands for the reliability harness's admin kubeconfig (test_bad_inputs.case_host_vars).
KUBECONFIG = "@kube_cluster.kubeconfig"
# A value that starts with MIRROR is a path on the lab mirror (its URL is known at run time).
MIRROR = "@mirror"

BAD_INPUTS = [
    # --- k3s_agent --------------------------------------------------------------------
    _k3s("k3s-server-http", "k3s_agent_server_url: http://k3s.lab.invalid:6443",
         r"k3s_agent_server_url 'http://k3s\.lab\.invalid:6443' must be .*https://HOST:PORT",
         k3s_agent_server_url="http://k3s.lab.invalid:6443"),
    _k3s("k3s-server-missing", "k3s_agent_server_url not set",
         r"k3s_agent_server_url '' must be .*https://HOST:PORT", k3s_agent_server_url=_MISSING),
    _k3s("k3s-server-no-port", "k3s_agent_server_url: https://k3s.lab.invalid (no port)",
         r"k3s_agent_server_url 'https://k3s\.lab\.invalid' must be .*explicit port",
         k3s_agent_server_url="https://k3s.lab.invalid"),
    _k3s("k3s-token-missing", "k3s_agent_token not set",
         r"k3s_agent_token is missing, empty .*set it to the cluster's\s+join token", k3s_agent_token=_MISSING),
    _k3s("k3s-token-empty", "k3s_agent_token: '' (empty)",
         r"k3s_agent_token is missing, empty .*set it to the cluster's\s+join token", k3s_agent_token=""),
    _k3s("k3s-token-whitespace", "k3s_agent_token with a space inside",
         r"k3s_agent_token is missing, empty or contains whitespace",
         k3s_agent_token="K10secret part2::server:abc"),
    _k3s("k3s-version-latest", "k3s_agent_version: latest",
         r"k3s_agent_version 'latest' is not a K3s release tag: set it to a\s+pinned tag", k3s_agent_version="latest"),
    _k3s("k3s-version-channel", "k3s_agent_version: stable (a channel)",
         r"k3s_agent_version 'stable' is not a K3s release tag", k3s_agent_version="stable"),
    _k3s("k3s-version-no-suffix", "k3s_agent_version: v1.36.3 (no +k3sN)",
         r"k3s_agent_version 'v1\.36\.3' is not a K3s release tag", k3s_agent_version="v1.36.3"),
    _k3s("k3s-version-unknown", "k3s_agent_version: v1.36.77+k3s1 (no such release on the mirror)",
         r"v1\.36\.77\+k3s1.*(k3s_agent_version|k3s_agent_release_url)", k3s_agent_version="v1.36.77+k3s1"),
    _k3s("k3s-taint-no-effect", "k3s_agent_node_taints: [nvidia.com/gpu=true]",
         r"k3s_agent_node_taints\[0\] 'nvidia\.com/gpu=true': .*no effect \(expected key\[=value\]:Effect",
         k3s_agent_node_taints=["nvidia.com/gpu=true"]),
    _k3s("k3s-taint-bad-effect", "k3s_agent_node_taints: [nvidia.com/gpu=true:NoScheduel]",
         r"k3s_agent_node_taints\[0\] 'nvidia\.com/gpu=true:NoScheduel': .*the effect 'NoScheduel' must be one of NoSchedule, PreferNoSchedule",
         k3s_agent_node_taints=["nvidia.com/gpu=true:NoScheduel"]),
    _k3s("k3s-taint-bad-key", "k3s_agent_node_taints: ['nvidia gpu=true:NoSchedule'] (space in key)",
         r"k3s_agent_node_taints\[0\] 'nvidia gpu=true:NoSchedule': key 'nvidia gpu'",
         k3s_agent_node_taints=["nvidia gpu=true:NoSchedule"]),
    _k3s("k3s-label-no-value", "k3s_agent_node_labels: [gpu.example.com/model]",
         r"k3s_agent_node_labels\[0\] 'gpu\.example\.com/model': no '=' \(expected key=value",
         k3s_agent_node_labels=["gpu.example.com/model"]),
    _k3s("k3s-label-long-value", "k3s_agent_node_labels: [model=<64 characters>]",
         r"k3s_agent_node_labels\[0\] 'model=a{64}': .*must be at most 63 characters",
         k3s_agent_node_labels=["model=" + "a" * 64]),
    _k3s("k3s-node-name-upper", "k3s_agent_node_name: GPU_Node_1",
         r"k3s_agent_node_name: node name 'gpu_node_1' \(from node-name 'GPU_Node_1'.*is not a valid Kubernetes node name",
         k3s_agent_node_name="GPU_Node_1"),
    _k3s("k3s-kubelet-arg-dashes", "k3s_agent_kubelet_args: [--max-pods=50]",
         r"k3s_agent_kubelet_args \['--max-pods=50'\]: entries flag=value without leading dashes",
         k3s_agent_kubelet_args=["--max-pods=50"]),
    _k3s("k3s-extra-token", "k3s_agent_config_extra: {token: ...}",
         r"k3s_agent_config_extra, k3s_agent_config_dropins and k3s_agent_service_env must not\s+set .*use\s+k3s_agent_server_url and k3s_agent_token",
         k3s_agent_config_extra={"token": "K10inconfigextra"}),
    _k3s("k3s-env-token", "k3s_agent_service_env: {K3S_TOKEN: ...}",
         r"must not\s+set .*K3S_TOKEN/K3S_URL", k3s_agent_service_env={"K3S_TOKEN": "K10inenv"}),
    _k3s("k3s-state-bogus", "k3s_agent_state: installed",
         r"k3s_agent_state must be one of: present, absent", k3s_agent_state="installed"),
    _k3s("k3s-local-dir-missing", "k3s_agent_local_release_dir: /nonexistent/k3s-releases",
         r"k3s_agent_local_release_dir: /nonexistent/k3s-releases/v1\.36\.3\+k3s1 on the controller must hold",
         k3s_agent_local_release_dir="/nonexistent/k3s-releases"),
    # The version read and the skew check (tasks/preflight.yml): the cases that reach the API
    # read the reliability harness's kube-apiserver (v1.36.3) with its admin kubeconfig.
    _k3s("k3s-version-server-unchecked", "k3s_agent_version: server with k3s_agent_version_check: false",
         r"k3s_agent_version: server installs the release the server runs.*set\s+k3s_agent_version_check: true",
         k3s_agent_version="server"),
    _k3s("k3s-release-suffix-bad", "k3s_agent_release_suffix: k3s1 (no +)",
         r"k3s_agent_release_suffix 'k3s1' must be \+k3sN", k3s_agent_release_suffix="k3s1"),
    _k3s("k3s-api-host-unknown", "k3s_agent_api_host: no-such-controller",
         r"k3s_agent_api_host\s+'no-such-controller' is not in the inventory", k3s_agent_api_host="no-such-controller"),
    _k3s("k3s-kubeconfig-missing", "k3s_agent_kubeconfig: /nonexistent/kubeconfig (version check on)",
         r"Could not read the K3s server's version through the Kubernetes API on\s+localhost.*"
         r"Set k3s_agent_kubeconfig", k3s_agent_version_check=True, k3s_agent_kubeconfig="/nonexistent/kubeconfig"),
    _k3s("k3s-agent-newer-than-server", "k3s_agent_version: v1.37.2+k3s1 against a v1.36.3 server",
         r"K3s agent v1\.37\.2\+k3s1 is newer than the server v1\.36\.3: a kubelet must not be newer",
         k3s_agent_version="v1.37.2+k3s1", k3s_agent_version_check=True, k3s_agent_kubeconfig=KUBECONFIG),
    _k3s("k3s-agent-too-old", "k3s_agent_version: v1.32.9+k3s1 against a v1.36.3 server",
         r"K3s agent v1\.32\.9\+k3s1 is 4 minor versions older than the server v1\.36\.3",
         k3s_agent_version="v1.32.9+k3s1", k3s_agent_version_check=True, k3s_agent_kubeconfig=KUBECONFIG),
    # --- cuda_driver ------------------------------------------------------------------
    _cuda("cuda-no-gpu", "no NVIDIA device on the PCI bus (cuda_driver_require_gpu: true)",
          r"No NVIDIA device \(PCI vendor 0x10de\) found .*set\s+cuda_driver_require_gpu=false", cuda_driver_require_gpu=True),
    _cuda("cuda-branch-latest", "cuda_driver_branch: latest",
          r"cuda_driver_branch must be a driver branch number such as 580 \(got latest\)", cuda_driver_branch="latest"),
    _cuda("cuda-branch-unknown", "cuda_driver_branch: '999' (not in the repository)",
          r"Driver branch 999 is not available .*Set cuda_driver_branch to a branch the repository offers",
          rollback=True, cuda_driver_branch="999"),
    _cuda("cuda-version-unknown", "cuda_driver_version: 580.1.2 (not in the repository)",
          r"cuda_driver_version 580\.1\.2 is not offered by the repository for nvidia-driver-cuda \(offered: .*580\.105\.08-1.*"
          r"set\s+cuda_driver_version to a version the repository offers",
          rollback=True, cuda_driver_version="580.1.2"),
    _cuda("cuda-version-latest", "cuda_driver_version: latest",
          r"cuda_driver_version must be a full driver version such as 580\.105\.08 \(got 'latest'\)",
          rollback=True, cuda_driver_version="latest"),
    _cuda("cuda-repo-ftp", "cuda_driver_repo_url: ftp://mirror.lab.invalid/cuda",
          r"cuda_driver_repo_url must be an http\(s\):// URL \(got ftp://mirror\.lab\.invalid/cuda\)",
          cuda_driver_repo_url="ftp://mirror.lab.invalid/cuda"),
    _cuda("cuda-modules-bogus", "cuda_driver_kernel_modules: nouveau",
          r"cuda_driver_kernel_modules must be one of: open, proprietary", cuda_driver_kernel_modules="nouveau"),
    _cuda("cuda-source-bogus", "cuda_driver_source: runfile",
          r"cuda_driver_source must be one of: auto, nvidia_repo, distro, preinstalled", cuda_driver_source="runfile"),
    _cuda("cuda-distro-mirror-ftp", "cuda_driver_distro_mirror_url: ftp://mirror.lab.invalid/debian",
          r"cuda_driver_distro_mirror_url is not an http\(s\):// URL: set cuda_driver_distro_mirror_url to your Debian mirror"
          r" \(an http\(s\):// URL; got\s+'ftp://mirror\.lab\.invalid/debian'\)",
          cuda_driver_manage_distro_components=True, cuda_driver_distro_mirror_url="ftp://mirror.lab.invalid/debian"),
    _cuda("cuda-no-debian-source", "no apt source serves Debian bookworm main (cuda_driver_distro_mirror_url empty)",
          r"No apt source on \S+ serves Debian bookworm main, so the role cannot tell which Debian mirror to add\s+contrib"
          r" from: set cuda_driver_distro_mirror_url to your Debian mirror",
          runner="alone", cuda_driver_manage_distro_components=True),
    _cuda("cuda-secure-boot", "secure boot on, modules not signed (SecureBoot EFI variable = 1)",
          r"Secure boot is on .*enroll\s+DKMS's signing key .*cuda_driver_secure_boot_signed=true", runner="alone"),
    _cuda("cuda-unsupported-os", "unsupported OS (/etc/os-release of Rocky Linux 9)",
          r"cuda_driver supports Debian 12, Debian 13, Ubuntu 22\.04 and Ubuntu 24\.04 .*this host runs Rocky[ A-Za-z]* 9\.4 .*Run the role on a supported OS",
          runner="alone"),
    _cuda("cuda-debian-11", "unsupported Debian release (/etc/os-release and /etc/debian_version of Debian 11)",
          r"cuda_driver supports Debian 12, Debian 13, Ubuntu 22\.04 and Ubuntu 24\.04 .*Run the role on a supported OS",
          runner="alone"),
    # --- container_toolkit ------------------------------------------------------------------
    _ctk("ctk-version-latest", "container_toolkit_version: latest",
         r"container_toolkit_version must be an exact package version such as 1\.20\.0-1 .*got \"latest\"",
         container_toolkit_version="latest"),
    _ctk("ctk-version-wildcard", "container_toolkit_version: 1.20.*",
         r"container_toolkit_version must be an exact package version .*got \"1\.20\.\*\"",
         container_toolkit_version="1.20.*"),
    _ctk("ctk-runtime-bogus", "container_toolkit_runtime: podman",
         r"container_toolkit_runtime must be one of: k3s, containerd, docker", container_toolkit_runtime="podman"),
    _ctk("ctk-repo-ftp", "container_toolkit_repo_url: ftp://mirror.lab.invalid/deb",
         r"container_toolkit_repo_url \(ftp://mirror\.lab\.invalid/deb\).*must be http\(s\):// URLs",
         container_toolkit_repo_url="ftp://mirror.lab.invalid/deb"),
    _ctk("ctk-path-relative", "container_toolkit_containerd_config: containerd.toml (relative; runtime containerd)",
         r"These paths must be absolute file paths: \['containerd\.toml'\]",
         container_toolkit_runtime="containerd", container_toolkit_containerd_config="containerd.toml"),
    _ctk("ctk-fingerprint-key-id", "container_toolkit_gpgkey_fingerprints: [DDCAE044F796ECB0] (a key id)",
         r"container_toolkit_gpgkey_fingerprints must list the fingerprints .*DDCAE044F796ECB0",
         container_toolkit_gpgkey_fingerprints=["DDCAE044F796ECB0"]),
    _ctk("ctk-gpgkey-not-a-key", "container_toolkit_gpgkey_url: a Release file (serves no key)",
         r"does not hold an OpenPGP public key: not OpenPGP data",
         container_toolkit_gpgkey_url=MIRROR + "/libnvidia-container/stable/deb/amd64/Release"),
    _ctk("ctk-version-unknown", "container_toolkit_version: 9.9.9-1 (not in the repository)",
         r"Version 9\.9\.9-1 of nvidia-container-toolkit, nvidia-container-toolkit-base,\s+libnvidia-container-tools,"
         r"\s+libnvidia-container1 is not available .*offered: 1\.20\.0-1, 1\.17\.8-1",
         rollback=True, container_toolkit_version="9.9.9-1"),
    _ctk("ctk-ubuntu-20.04", "unsupported OS (/etc/os-release of Ubuntu 20.04)",
         r"container_toolkit supports Debian 12, Debian 13, Ubuntu 22\.04 and Ubuntu 24\.04 .*this host runs Ubuntu 20\.04",
         runner="alone"),
    # --- gpu_operator (controller, real kube-apiserver) ---------------------------------
    _op("op-chart-latest", "gpu_operator_chart_version: latest",
        r"gpu_operator_chart_version must be a pinned chart version .*got 'latest'", gpu_operator_chart_version="latest"),
    _op("op-chart-empty", "gpu_operator_chart_version: '' (empty)",
        r"gpu_operator_chart_version must be a pinned chart version .*got ''", gpu_operator_chart_version=""),
    _op("op-chart-unknown", "gpu_operator_chart_version: v99.1.0 (not in the chart repository)",
        r"v99\.1\.0.*(gpu_operator_chart_version|gpu_operator_chart_repo_url|not found)",
        gpu_operator_chart_version="v99.1.0"),
    _op("op-toolkit-conflict", "gpu_operator_toolkit_enabled: true with gpu_operator_host_toolkit: true",
        r"gpu_operator_toolkit_enabled is true while gpu_operator_host_toolkit is true.*installed twice",
        gpu_operator_toolkit_enabled=True, gpu_operator_host_toolkit=True),
    _op("op-chart-ref-missing", "gpu_operator_chart_ref: /nonexistent/gpu-operator-v26.7.0.tgz",
        r"gpu_operator_chart_ref '/nonexistent/gpu-operator-v26\.7\.0\.tgz' is neither an oci:// reference nor\s+a chart archive",
        gpu_operator_chart_ref="/nonexistent/gpu-operator-v26.7.0.tgz"),
    _op("op-context-missing", "gpu_operator_context: no-such-context (not in the kubeconfig)",
        r"no-such-context", gpu_operator_context="no-such-context"),
    _op("op-namespace-invalid", "gpu_operator_namespace: GPU_Operator",
        r"gpu_operator_namespace a DNS label", gpu_operator_namespace="GPU_Operator"),
    _op("op-helm-missing", "gpu_operator_helm_binary: /nonexistent/helm",
        r"helm \('/nonexistent/helm'\) does not run on the controller.*set gpu_operator_helm_binary",
        gpu_operator_helm_binary="/nonexistent/helm"),
    _op("op-wait-timeout-zero", "gpu_operator_wait_timeout: 0",
        r"gpu_operator_wait_timeout a positive number of seconds", gpu_operator_wait_timeout=0),
    _op("op-runtime-class-nvidia", "gpu_operator_runtime_class_name: nvidia (the operator's and K3s's own)",
        r"gpu_operator_runtime_class_name 'nvidia' must not be one of nvidia, .*rewrites its RuntimeClasses",
        gpu_operator_runtime_class_name="nvidia"),
    _op("op-runtime-class-selector", "gpu_operator_runtime_class_node_selector: {'k3s-gpu.node/gpu': 'Not OK!'}",
        r"RuntimeClass.*(Invalid value|invalid).*Not OK!",
        gpu_operator_runtime_class_node_selector={"k3s-gpu.node/gpu": "Not OK!"}),
    # GPU sharing: refused by the preflight, before the ConfigMap, a label or the chart changes.
    _op("op-ts-one-replica", "gpu_operator_sharing_configs: {ts-1: {replicas: 1}}",
        r"gpu_operator_sharing_configs\['ts-1'\]: replicas must be a whole number of at least 2",
        gpu_operator_sharing_configs={"ts-1": {"replicas": 1}}),
    _op("op-ts-unknown-key", "gpu_operator_sharing_configs: {ts-4: {replicas: 4, rename: true}} (a typo)",
        r"gpu_operator_sharing_configs\['ts-4'\]: unknown key\(s\) rename; a config has replicas",
        gpu_operator_sharing_configs={"ts-4": {"replicas": 4, "rename": True}}),
    _op("op-ts-node-unknown", "a GPU node's sharing_config: ts-8, not in gpu_operator_sharing_configs",
        r"gpu_operator_gpu_nodes: node rel-gpu-a has sharing_config 'ts-8' \(k3s_gpu_sharing_config.*"
        r"not a config\s+of gpu_operator_sharing_configs \(ts-4\)",
        gpu_operator_sharing_configs={"ts-4": {"replicas": 4}},
        gpu_operator_gpu_nodes=[{"name": "rel-gpu-a", "sharing_config": "ts-8"}]),
    _op("op-ts-default-unknown", "gpu_operator_sharing_default: ts-9, not in gpu_operator_sharing_configs",
        r"gpu_operator_sharing_default 'ts-9' is not a config of gpu_operator_sharing_configs",
        gpu_operator_sharing_configs={"ts-4": {"replicas": 4}}, gpu_operator_sharing_default="ts-9"),
    _op("op-mig-strategy", "gpu_operator_mig_strategy: auto",
        r"gpu_operator_mig_strategy.*(auto|choices)", gpu_operator_mig_strategy="auto"),
    _op("op-mig-no-mig-gpu", "a GPU node's mig_config: all-1g.18gb on an NVIDIA L4 (no MIG mode in its facts)",
        r"gpu_operator_gpu_nodes: node rel-gpu-l4 has mig_config 'all-1g\.18gb' \(k3s_gpu_mig_config.*"
        r"GPU 0 \(NVIDIA L4\) cannot do MIG",
        gpu_operator_gpu_nodes=[{"name": "rel-gpu-l4", "mig_config": "all-1g.18gb",
                                 "gpus": [{"index": 0, "name": "NVIDIA L4", "mig_mode": {"current": None, "pending": None}}]}]),
    _op("op-mig-strategy-none", "a GPU node's mig_config: all-1g.18gb with gpu_operator_mig_strategy: none",
        r"node rel-gpu-m has mig_config 'all-1g\.18gb' but gpu_operator_mig_strategy is none",
        gpu_operator_mig_strategy="none",
        gpu_operator_gpu_nodes=[{"name": "rel-gpu-m", "mig_config": "all-1g.18gb"}]),
    _op("op-taint-bad-effect", "gpu_operator_runtime_class_taints: [nvidia.com/gpu=true:Sometimes]",
        r"gpu_operator_runtime_class_taints\[0\] 'nvidia\.com/gpu=true:Sometimes': .*the effect 'Sometimes' must be one of",
        gpu_operator_runtime_class_taints=["nvidia.com/gpu=true:Sometimes"]),
    _op("op-node-label-no-value", "gpu_operator_gpu_nodes: [{name: rel-gpu-node, labels: [gpu.example.com/model]}]",
        r"gpu_operator_gpu_nodes\[\]\.labels\[0\] 'gpu\.example\.com/model': no '='",
        gpu_operator_gpu_nodes=[{"name": "rel-gpu-node", "labels": ["gpu.example.com/model"]}]),
    # --- gpu_workspace (controller, real kube-apiserver) -------------------------------
    _ws("ws-name-invalid", "gpu_workspace_workspaces: [{name: Alice_1}]",
        r"workspace 'Alice_1' .*the name must be a lowercase DNS label of at most 40 characters",
        [{"name": "Alice_1", "gpus": 0, "password": WS_PASSWORD}]),
    _ws("ws-gpus-negative", "gpus: -1",
        r"workspace 'rel-neg' .*gpus must be a whole number of GPUs, 0 or more .*got -1",
        [{"name": "rel-neg", "gpus": -1, "password": WS_PASSWORD}]),
    _ws("ws-gpus-not-int", "gpus: two",
        r"gpus.*gpu_workspace_workspaces.*unable to convert to int",
        [{"name": "rel-two", "gpus": "two", "password": WS_PASSWORD}]),
    _ws("ws-password-missing", "a workspace with neither password nor generate_password",
        r"workspace 'rel-nopw' .*has no password source: set its password \(from a vault, or\s+gpu_workspace_passwords",
        [{"name": "rel-nopw", "gpus": 0}]),
    _ws("ws-password-placeholder", "password: CHANGE-ME-WITH-ANSIBLE-VAULT (the example's placeholder)",
        r"workspace 'rel-ph' .*the password is the example inventory's placeholder",
        [{"name": "rel-ph", "gpus": 0, "password": "CHANGE-ME-WITH-ANSIBLE-VAULT"}]),
    _ws("ws-password-and-generate", "password with generate_password: true",
        r"workspace 'rel-both' .*both a password and generate_password: true",
        [{"name": "rel-both", "gpus": 0, "password": WS_PASSWORD, "generate_password": True}]),
    _ws("ws-gpus-too-many", "gpus: 64 (more than any node's allocatable nvidia.com/gpu)",
        r"workspace 'rel-many': gpus 64 is more than any node can give: no node has allocatable nvidia\.com/gpu",
        [{"name": "rel-many", "gpus": 64, "password": WS_PASSWORD}]),
    _ws("ws-runtime-class-missing", "gpu_workspace_runtime_class: no-such-class",
        r"RuntimeClass no-such-class does not exist, so no GPU pod can start.*set\s+gpu_workspace_runtime_class",
        [{"name": "rel-rc", "gpus": 1, "password": WS_PASSWORD}], gpu_workspace_runtime_class="no-such-class"),
    _ws("ws-image-missing", "gpu_workspace_image: '' (empty)",
        r"workspace 'rel-noimg' .*no image: set gpu_workspace_image",
        [{"name": "rel-noimg", "gpus": 0, "password": WS_PASSWORD}], gpu_workspace_image=""),
    _ws("ws-ingress-host-url", "ingress_host: https://ws.example.org/ (a URL)",
        r"ingress_host 'https://ws\.example\.org/' must be a lowercase DNS name",
        [{"name": "rel-ing", "gpus": 0, "password": WS_PASSWORD, "ingress_host": "https://ws.example.org/"}]),
    _ws("ws-state-bogus", "state: gone",
        r"state must be one of: present, absent",
        [{"name": "rel-state", "gpus": 0, "password": WS_PASSWORD, "state": "gone"}]),
    # --- k3s_taint (controller) ----------------------------------------------------------
    _mod("taint-malformed", "k3s_taint", "taints: [nvidia.com/gpu=true:Sometimes]",
         r"malformed taint.*Sometimes", "api", {"name": "rel-gpu-node", "taints": ["nvidia.com/gpu=true:Sometimes"]}),
    _mod("taint-node-name", "k3s_taint", "name: GPU_Node_1",
         r"node name 'gpu_node_1' \(from node-name 'GPU_Node_1', lowercased as K3s does\) "
         r"is not a valid Kubernetes node name", "api", {"name": "GPU_Node_1", "taints": []}),
    _mod("taint-exclusive-absent", "k3s_taint", "exclusive: true with state: absent",
         r"exclusive applies to state=present only", "api",
         {"name": "rel-gpu-node", "taints": ["nvidia.com/gpu"], "state": "absent", "exclusive": True}),
    _mod("taint-wait-negative", "k3s_taint", "wait_timeout: -1",
         r"wait_timeout and wait_sleep must be 0 or more seconds", "api",
         {"name": "rel-gpu-node", "taints": [], "wait_timeout": -1}),
    _mod("taint-no-name", "k3s_taint", "neither name nor hostname",
         r"one of the following is required: name, hostname", "api", {"taints": ["nvidia.com/gpu=true:NoSchedule"]}),
    _mod("taint-context-missing", "k3s_taint", "context: no-such-context (not in the kubeconfig)",
         r"no-such-context", "api",
         {"name": "rel-gpu-node", "taints": ["nvidia.com/gpu=true:NoSchedule"], "context": "no-such-context",
          "wait_timeout": 0}),
    # --- k3s_label (controller) ----------------------------------------------------------
    _mod("label-no-value", "k3s_label", "labels: [gpu.example.com/model] (no '=')",
         r"malformed label: labels\[0\] 'gpu\.example\.com/model': no '='", "api",
         {"name": "rel-gpu-node", "labels": ["gpu.example.com/model"]}),
    _mod("label-bool-value", "k3s_label", "labels: {gpu.example.com/shared: true} (a boolean)",
         r"malformed label: .*gpu\.example\.com/shared.*is a boolean; quote it", "api",
         {"name": "rel-gpu-node", "labels": {"gpu.example.com/shared": True}}),
    _mod("label-node-name", "k3s_label", "name: GPU_Node_1",
         r"node name 'gpu_node_1' \(from node-name 'GPU_Node_1'.*is not a valid Kubernetes node name", "api",
         {"name": "GPU_Node_1", "labels": ["a=b"]}),
    # --- gpu_validate ----------------------------------------------------------------------
    _mod("validate-check-unknown", "gpu_validate", "checks: [gpu_burn]",
         r"value of checks must be one or more of: gpu_health, device_query, vector_add, pod.*gpu_burn", "node", {"checks": ["gpu_burn"]}),
    _mod("validate-timeout-zero", "gpu_validate", "timeout: 0",
         r"timeout must be a positive number of seconds, got 0", "node", {"checks": ["device_query"], "timeout": 0}),
    _mod("validate-pod-no-node", "gpu_validate", "checks: [pod] without node_name",
         r"the pod check needs node_name", "api", {"checks": ["pod"]}),
    _mod("validate-no-device-query", "gpu_validate", "checks: [device_query] on a node without the CUDA demo suite",
         r"device_query failed: .*deviceQuery", "node", {"checks": ["device_query"]}),
    _mod("validate-health-no-driver", "gpu_validate", "checks: [gpu_health] on a node without the driver",
         r"gpu_health failed: nvidia-smi not found at PATH, /usr/local/nvidia/bin: install the NVIDIA driver",
         "node", {"checks": ["gpu_health"]}),
    _mod("validate-smi-path-missing", "gpu_validate", "nvidia_smi_path: /nonexistent/nvidia-smi",
         r"nvidia-smi not found at /nonexistent/nvidia-smi: .*or set nvidia_smi_path", "node",
         {"checks": ["gpu_health"], "nvidia_smi_path": "/nonexistent/nvidia-smi"}),
    _mod("validate-build-auto", "gpu_validate", "build: auto (leave it unset for the automatic choice)",
         r"argument 'build' is of type .* and we were unable to convert to bool", "node", {"build": "auto"}),
    # --- nvidia_smi_facts -----------------------------------------------------------------
    _mod("smi-required-no-driver", "nvidia_smi_facts", "required: true on a node without the driver",
         r"NVIDIA GPU required: ", "node", {"required": True}),
    _mod("smi-required-not-bool", "nvidia_smi_facts", "required: sometimes",
         r"argument 'required' is of type .* and we were unable to convert to bool", "node", {"required": "sometimes"}),
    _mod("smi-unknown-option", "nvidia_smi_facts", "gpu: 0 (no such option)",
         r"Unsupported parameters for \(k3s_gpu\.node\.nvidia_smi_facts\) module: gpu", "node", {"gpu": 0}),
    # --- site.yml -------------------------------------------------------------------------
    BadInput("site-server-http", "site.yml", "k3s_gpu_server_url: http://k3s.lab.invalid:6443",
             r"k3s_agent_server_url 'http://k3s\.lab\.invalid:6443' must be .*https://HOST:PORT.*"
             r"from k3s_gpu_server_url", runner="site",
             vars={"k3s_gpu_server_url": "http://k3s.lab.invalid:6443"}),
    BadInput("site-token-missing", "site.yml", "k3s_gpu_token not set",
             r"set k3s_gpu_token\s+\(from a vault", runner="site", vars={"k3s_gpu_token": _MISSING}),
    BadInput("site-token-placeholder", "site.yml", "k3s_gpu_token: CHANGE-ME (the example's placeholder)",
             r"set k3s_gpu_token\s+\(from a vault or an AWX credential, not the example's placeholder\)", runner="site",
             vars={"k3s_gpu_token": "CHANGE-ME-vault"}),
    BadInput("site-two-controllers", "site.yml", "two hosts in the controller group",
             r"exactly\s+one host in the `controller` group", runner="site", vars={"rel_two_controllers": True}),
    BadInput("site-taint-malformed", "site.yml", "k3s_gpu_node_taints: [nvidia.com/gpu] (no effect)",
             r"k3s_agent_node_taints\[0\] 'nvidia\.com/gpu': .*no effect", runner="site",
             vars={"k3s_gpu_node_taints": ["nvidia.com/gpu"]}),
    BadInput("site-node-name-invalid", "site.yml", "k3s_gpu_node_name: GPU_07",
             r"k8s_node_name: node name 'gpu_07' \(from node-name 'GPU_07'.*is not a valid Kubernetes node name.*"
             r"Set the node name", runner="site", vars={"k3s_gpu_node_name": "GPU_07"}),
    BadInput("site-label-malformed", "site.yml", "k3s_gpu_node_labels: [gpu.example.com/model] (no value)",
             r"k3s_agent_node_labels\[0\] 'gpu\.example\.com/model': no '=' \(expected key=value", runner="site",
             vars={"k3s_gpu_node_labels": ["gpu.example.com/model"]}),
]

MISSING = _MISSING


def by_runner(runner: str) -> list[BadInput]:
    return [c for c in BAD_INPUTS if c.runner == runner]

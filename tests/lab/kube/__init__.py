"""A real Kubernetes API for the tests (part of the lab, tests/lab).

``cluster`` starts and stops the kube-apiserver and etcd built by ``build.sh``;
``kubelet`` plays a kubelet's part (node registration, pod status, container
logs) through that real API; ``fixture`` exposes them as pytest fixtures.
"""

"""A real Kubernetes API for the integration tests.

``cluster`` starts and stops the kube-apiserver and etcd built by ``build.sh``;
``kubelet`` plays a kubelet's part (node registration, pod status, container
logs) through that real API; ``fixture`` exposes them as pytest fixtures.
"""

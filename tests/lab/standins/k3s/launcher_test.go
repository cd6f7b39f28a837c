package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// writeExe writes an executable script.
func writeExe(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// withToolkitDir points the GPU Operator's toolkit directory into the test's tree.
func withToolkitDir(t *testing.T, dir string) {
	old := toolkitDir
	toolkitDir = dir
	t.Cleanup(func() { toolkitDir = old })
}

func TestFindNvidiaRuntimesOnPath(t *testing.T) {
	root := t.TempDir()
	withToolkitDir(t, filepath.Join(root, "usr/local/nvidia/toolkit"))
	bin := filepath.Join(root, "usr/bin")
	writeExe(t, filepath.Join(bin, "nvidia-container-runtime"), "exit 0")
	writeExe(t, filepath.Join(bin, "nvidia-container-runtime.cdi"), "exit 0")
	// Not executable: K3s's LookPath skips it.
	if err := os.WriteFile(filepath.Join(bin, "nvidia-container-runtime-experimental"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := findNvidiaRuntimes("relative/dir:" + filepath.Join(root, "empty") + ":" + bin)
	want := map[string]runtimeConfig{
		"nvidia":     {RuntimeType: "io.containerd.runc.v2", BinaryName: filepath.Join(bin, "nvidia-container-runtime")},
		"nvidia-cdi": {RuntimeType: "io.containerd.runc.v2", BinaryName: filepath.Join(bin, "nvidia-container-runtime.cdi")},
	}
	if len(got) != len(want) {
		t.Fatalf("found %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %+v, want %+v", k, got[k], v)
		}
	}
}

func TestFindNvidiaRuntimesToolkitDirWins(t *testing.T) {
	root := t.TempDir()
	toolkit := filepath.Join(root, "usr/local/nvidia/toolkit")
	withToolkitDir(t, toolkit)
	bin := filepath.Join(root, "usr/bin")
	for _, d := range []string{toolkit, bin} {
		writeExe(t, filepath.Join(d, "nvidia-container-runtime"), "exit 0")
	}
	writeExe(t, filepath.Join(toolkit, "nvidia-container-runtime-experimental"), "exit 0")
	// A directory with a runtime's name is not a runtime.
	if err := os.MkdirAll(filepath.Join(bin, "nvidia-container-runtime.cdi"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := findNvidiaRuntimes(bin)
	if got["nvidia"].BinaryName != filepath.Join(toolkit, "nvidia-container-runtime") {
		t.Errorf("nvidia: %q, want the GPU Operator's toolkit dir first", got["nvidia"].BinaryName)
	}
	if got["nvidia-experimental"].BinaryName != filepath.Join(toolkit, "nvidia-container-runtime-experimental") {
		t.Errorf("nvidia-experimental: %+v", got["nvidia-experimental"])
	}
	if _, ok := got["nvidia-cdi"]; ok {
		t.Errorf("a directory was taken for nvidia-cdi: %+v", got)
	}
}

func TestFindNvidiaRuntimesNone(t *testing.T) {
	withToolkitDir(t, filepath.Join(t.TempDir(), "none"))
	if got := findNvidiaRuntimes(t.TempDir()); len(got) != 0 {
		t.Fatalf("found runtimes on an empty PATH: %v", got)
	}
}

// containerdConfig is the part of containerd's v3 config the tests read back.
type containerdConfig struct {
	Version int    `toml:"version"`
	Root    string `toml:"root"`
	State   string `toml:"state"`
	GRPC    struct {
		Address string `toml:"address"`
	} `toml:"grpc"`
	Plugins struct {
		Runtime struct {
			RestrictOOMScoreAdj bool `toml:"restrict_oom_score_adj"`
			CNI                 struct {
				BinDirs []string `toml:"bin_dirs"`
				ConfDir string   `toml:"conf_dir"`
			} `toml:"cni"`
			Containerd struct {
				DefaultRuntimeName *string `toml:"default_runtime_name"`
				Runtimes           map[string]struct {
					RuntimeType string `toml:"runtime_type"`
					Options     struct {
						BinaryName    string `toml:"BinaryName"`
						SystemdCgroup bool   `toml:"SystemdCgroup"`
					} `toml:"options"`
				} `toml:"runtimes"`
			} `toml:"containerd"`
		} `toml:"io.containerd.cri.v1.runtime"`
		Images struct {
			Snapshotter  string `toml:"snapshotter"`
			PinnedImages struct {
				Sandbox string `toml:"sandbox"`
			} `toml:"pinned_images"`
		} `toml:"io.containerd.cri.v1.images"`
	} `toml:"plugins"`
}

func parseContainerd(t *testing.T, text string) containerdConfig {
	t.Helper()
	var c containerdConfig
	md, err := toml.Decode(text, &c)
	if err != nil {
		t.Fatalf("containerd config is not valid TOML: %v\n%s", err, text)
	}
	_ = md
	return c
}

func TestRenderContainerdConfig(t *testing.T) {
	paths := pathsFor("/var/lib/rancher/k3s")
	text, err := renderContainerdConfig(containerdParams{
		Paths: paths, State: "/run/k3s/containerd", Socket: "/run/k3s/containerd/containerd.sock",
		Snapshotter: "overlayfs", PauseImage: "localhost/k3s-gpu/pause:3.10",
		CNIBinDir: "/var/lib/rancher/k3s/data/current/bin", DefaultRuntime: "nvidia",
		Runtimes: map[string]runtimeConfig{
			"nvidia":     {RuntimeType: "io.containerd.runc.v2", BinaryName: "/usr/bin/nvidia-container-runtime"},
			"nvidia-cdi": {RuntimeType: "io.containerd.runc.v2", BinaryName: "/usr/bin/nvidia-container-runtime.cdi"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := parseContainerd(t, text)
	if c.Version != 3 {
		t.Errorf("version = %d, want 3 (containerd v2's config, as K3s renders it)", c.Version)
	}
	if c.GRPC.Address != "/run/k3s/containerd/containerd.sock" || c.State != "/run/k3s/containerd" ||
		c.Root != "/var/lib/rancher/k3s/agent/containerd" {
		t.Errorf("socket/state/root: %q %q %q", c.GRPC.Address, c.State, c.Root)
	}
	rt := c.Plugins.Runtime
	if !slices.Equal(rt.CNI.BinDirs, []string{"/var/lib/rancher/k3s/data/current/bin"}) ||
		rt.CNI.ConfDir != "/var/lib/rancher/k3s/agent/etc/cni/net.d" {
		t.Errorf("cni: %+v", rt.CNI)
	}
	if rt.Containerd.DefaultRuntimeName == nil || *rt.Containerd.DefaultRuntimeName != "nvidia" {
		t.Errorf("default_runtime_name: %v", rt.Containerd.DefaultRuntimeName)
	}
	for name, bin := range map[string]string{"nvidia": "/usr/bin/nvidia-container-runtime",
		"nvidia-cdi": "/usr/bin/nvidia-container-runtime.cdi", "runc": ""} {
		r, ok := rt.Containerd.Runtimes[name]
		if !ok {
			t.Errorf("runtime %s missing: %v", name, rt.Containerd.Runtimes)
			continue
		}
		if r.RuntimeType != "io.containerd.runc.v2" || r.Options.BinaryName != bin || r.Options.SystemdCgroup {
			t.Errorf("runtime %s: %+v", name, r)
		}
	}
	if len(rt.Containerd.Runtimes) != 3 {
		t.Errorf("runtimes: %v", rt.Containerd.Runtimes)
	}
	if c.Plugins.Images.PinnedImages.Sandbox != "localhost/k3s-gpu/pause:3.10" || c.Plugins.Images.Snapshotter != "overlayfs" {
		t.Errorf("images: %+v", c.Plugins.Images)
	}
	if !strings.Contains(text, "STAND-IN") {
		t.Error("the file must say it was written by the stand-in")
	}
}

func TestRenderContainerdConfigWithoutRuntimes(t *testing.T) {
	text, err := renderContainerdConfig(containerdParams{Paths: pathsFor("/d"), State: "/s", Socket: "/s/c.sock",
		Snapshotter: "native", PauseImage: "p", CNIBinDir: "/b"})
	if err != nil {
		t.Fatal(err)
	}
	c := parseContainerd(t, text)
	if c.Plugins.Runtime.Containerd.DefaultRuntimeName != nil {
		t.Errorf("default_runtime_name set without default-runtime: %q", *c.Plugins.Runtime.Containerd.DefaultRuntimeName)
	}
	if _, ok := c.Plugins.Runtime.Containerd.Runtimes["runc"]; !ok || len(c.Plugins.Runtime.Containerd.Runtimes) != 1 {
		t.Errorf("runtimes: %v", c.Plugins.Runtime.Containerd.Runtimes)
	}
}

// agentFromFiles builds the agent configuration from a config.yaml and drop-ins, as `k3s agent` does.
func agentFromFiles(t *testing.T, config string, dropins map[string]string) *agentConfig {
	t.Helper()
	for _, k := range []string{"K3S_URL", "K3S_TOKEN", "K3S_TOKEN_FILE", "K3S_NODE_NAME", "K3S_CONFIG_FILE"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, text := range dropins {
		if err := os.MkdirAll(path+".d", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path+".d", name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := buildAgentConfig([]string{"--config", path})
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func flagValue(args []string, name string) (string, int) {
	n, val := 0, ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			n++
			val = v
		}
	}
	return val, n
}

func TestKubeletArgsFromConfigYaml(t *testing.T) {
	t.Setenv("K3S_STANDIN_KUBELET_CLIENT_CA", "")
	cfg := agentFromFiles(t, "server: https://127.0.0.1:6443\ntoken: K10abc::server:xyz\nnode-name: gpu-01\n"+
		"node-taint:\n  - nvidia.com/gpu=true:NoSchedule\nnode-label:\n  - nvidia.com/gpu.present=true\n"+
		"kubelet-arg:\n  - max-pods=50\n  - --fail-swap-on=true\n",
		map[string]string{"50-extra.yaml": "node-taint+:\n  - dedicated=gpu:NoExecute\nnode-label+:\n  - tier=gpu\n"})
	args := kubeletArgs(cfg, pathsFor("/var/lib/rancher/k3s"), "/etc/k.kubeconfig", "gpu-01")
	want := map[string]string{
		"register-with-taints":       "nvidia.com/gpu=true:NoSchedule,dedicated=gpu:NoExecute",
		"node-labels":                "nvidia.com/gpu.present=true,tier=gpu",
		"hostname-override":          "gpu-01",
		"kubeconfig":                 "/etc/k.kubeconfig",
		"container-runtime-endpoint": "unix:///run/k3s/containerd/containerd.sock",
		"cgroup-driver":              "cgroupfs",
		"max-pods":                   "50",
		"fail-swap-on":               "true", // kubelet-arg overrides K3s's default false
		"pod-manifest-path":          "/var/lib/rancher/k3s/agent/pod-manifests",
		"read-only-port":             "0",
	}
	for name, v := range want {
		got, n := flagValue(args, name)
		if n != 1 || got != v {
			t.Errorf("--%s: %q (given %d times), want %q once\nargs: %v", name, got, n, v, args)
		}
	}
	if _, n := flagValue(args, "client-ca-file"); n != 0 {
		t.Errorf("client-ca-file without K3S_STANDIN_KUBELET_CLIENT_CA: %v", args)
	}
	for _, a := range args {
		if strings.Contains(a, "K10abc") {
			t.Errorf("the token is on the kubelet's command line: %s", a)
		}
	}
}

func TestKubeletArgsClientCAAndNoTaints(t *testing.T) {
	t.Setenv("K3S_STANDIN_KUBELET_CLIENT_CA", "/etc/kubernetes/pki/ca.crt")
	cfg := agentFromFiles(t, "server: https://127.0.0.1:6443\ntoken: t\n", nil)
	args := kubeletArgs(cfg, pathsFor("/d"), "/k", "n1")
	if _, n := flagValue(args, "register-with-taints"); n != 0 {
		t.Errorf("register-with-taints without node-taint: %v", args)
	}
	for name, v := range map[string]string{"client-ca-file": "/etc/kubernetes/pki/ca.crt", "anonymous-auth": "false",
		"authorization-mode": "Webhook", "node-labels": ""} {
		if got, n := flagValue(args, name); n != 1 || got != v {
			t.Errorf("--%s: %q x%d, want %q", name, got, n, v)
		}
	}
}

func TestValidationOnlyWhenComponentsAbsent(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("K3S_STANDIN_BIN_DIR", empty)
	t.Setenv("K3S_STANDIN_CONTAINERD", "")
	t.Setenv("K3S_STANDIN_KUBELET", "")
	cfg := &agentConfig{Extra: map[string]any{}}
	comps, err := findComponents(cfg, t.TempDir())
	if comps != nil || err != nil {
		t.Fatalf("no components must mean validation-only mode: %+v, %v", comps, err)
	}
	// The default search path: K3s's data dir layout and the k3s binary's own directory.
	t.Setenv("K3S_STANDIN_BIN_DIR", "")
	dirs := binDirs(cfg, "/var/lib/rancher/k3s")
	if dirs[0] != "/var/lib/rancher/k3s/data/current/bin" || len(dirs) != 3 {
		t.Errorf("default bin dirs: %v", dirs)
	}
}

func TestHalfInstalledComponentsAreAnError(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("K3S_STANDIN_BIN_DIR", bin)
	t.Setenv("K3S_STANDIN_CONTAINERD", "")
	t.Setenv("K3S_STANDIN_KUBELET", "")
	writeExe(t, filepath.Join(bin, "containerd"), "exit 0")
	_, err := findComponents(&agentConfig{Extra: map[string]any{}}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no kubelet in "+bin) {
		t.Fatalf("containerd without a kubelet: %v", err)
	}
	writeExe(t, filepath.Join(bin, "kubelet"), "exit 0")
	t.Setenv("PATH", "/nonexistent")
	_, err = findComponents(&agentConfig{Extra: map[string]any{}}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "failed to find host-local") {
		t.Fatalf("no CNI plugins: %v", err)
	}
	cni := filepath.Join(t.TempDir(), "cni")
	writeExe(t, filepath.Join(cni, "host-local"), "exit 0")
	t.Setenv("K3S_STANDIN_BIN_DIR", bin+":"+cni)
	comps, err := findComponents(&agentConfig{Extra: map[string]any{}}, t.TempDir())
	if err != nil || comps.CNIBinDir != cni || comps.Kubelet != filepath.Join(bin, "kubelet") ||
		!strings.HasPrefix(comps.Path, bin+":"+cni+":") {
		t.Fatalf("components: %+v, %v", comps, err)
	}
}

// fakeNode is a temporary node: fake containerd and kubelet scripts, CNI plugins, a data dir.
type fakeNode struct {
	dir, data, bin, socket string
	comps                  *components
}

func newFakeNode(t *testing.T, kubeletBody string) *fakeNode {
	t.Helper()
	n := &fakeNode{dir: t.TempDir()}
	n.data, n.bin = filepath.Join(n.dir, "data"), filepath.Join(n.dir, "bin")
	n.socket = filepath.Join(n.dir, "run", "containerd.sock")
	oldSock, oldState := containerdSocket, containerdState
	containerdSocket, containerdState = n.socket, filepath.Join(n.dir, "run")
	t.Cleanup(func() { containerdSocket, containerdState = oldSock, oldState })
	withToolkitDir(t, filepath.Join(n.dir, "toolkit"))
	// containerd: record argv and pid, listen on the -a socket, stop on SIGTERM.
	writeExe(t, filepath.Join(n.bin, "containerd"), `echo "$@" > "`+n.dir+`/containerd.argv"
echo $$ > "`+n.dir+`/containerd.pid"
exec python3 -c 'import socket,sys,signal
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); signal.pause()' "$4"`)
	writeExe(t, filepath.Join(n.bin, "kubelet"), `echo "$@" > "`+n.dir+`/kubelet.argv"
echo $$ > "`+n.dir+`/kubelet.pid"
`+kubeletBody)
	writeExe(t, filepath.Join(n.bin, "host-local"), "exit 0")
	t.Setenv("K3S_STANDIN_BIN_DIR", n.bin)
	t.Setenv("K3S_STANDIN_CONTAINERD", "")
	t.Setenv("K3S_STANDIN_KUBELET", "")
	t.Setenv("K3S_STANDIN_KUBELET_KUBECONFIG", "")
	t.Setenv("K3S_STANDIN_SERVER_CA", "")
	var err error
	if n.comps, err = findComponents(&agentConfig{Extra: map[string]any{}}, n.data); err != nil || n.comps == nil {
		t.Fatalf("components: %v", err)
	}
	return n
}

func TestPrepareWritesK3sFilesIdempotently(t *testing.T) {
	n := newFakeNode(t, "exit 0")
	writeExe(t, filepath.Join(n.bin, "nvidia-container-runtime"), "exit 0")
	t.Setenv("PATH", n.bin+":/usr/bin:/bin")
	cfg := &agentConfig{Server: "https://127.0.0.1:6443", Token: "K10secret::server:pw", NodeName: "gpu-01",
		DefaultRuntime: "nvidia", PauseImage: "localhost/pause:3.10", Extra: map[string]any{}}
	ctrdArgv, kubeletArgv, err := prepare(cfg, n.comps, n.data, "gpu-01")
	if err != nil {
		t.Fatal(err)
	}
	paths := pathsFor(n.data)
	if want := []string{filepath.Join(n.bin, "containerd"), "-c", paths.ContainerdConfig, "-a", n.socket,
		"--state", filepath.Join(n.dir, "run"), "--root", paths.ContainerdRoot}; !slices.Equal(ctrdArgv, want) {
		t.Errorf("containerd argv %v, want %v", ctrdArgv, want)
	}
	text, err := os.ReadFile(paths.ContainerdConfig)
	if err != nil {
		t.Fatal(err)
	}
	c := parseContainerd(t, string(text))
	if c.Plugins.Runtime.Containerd.Runtimes["nvidia"].Options.BinaryName != filepath.Join(n.bin, "nvidia-container-runtime") {
		t.Errorf("nvidia runtime: %+v", c.Plugins.Runtime.Containerd.Runtimes)
	}
	if !slices.Equal(c.Plugins.Runtime.CNI.BinDirs, []string{n.bin}) {
		t.Errorf("CNI bin dir %v, want where host-local is (%s)", c.Plugins.Runtime.CNI.BinDirs, n.bin)
	}
	conflist, err := os.ReadFile(filepath.Join(paths.CNIConfDir, standinCNIConf))
	if err != nil || !strings.Contains(string(conflist), `"type": "bridge"`) || !strings.Contains(string(conflist), "STAND-IN") {
		t.Errorf("CNI conflist: %v\n%s", err, conflist)
	}
	kc, _ := flagValue(kubeletArgv, "kubeconfig")
	st, err := os.Stat(kc)
	if err != nil || st.Mode().Perm() != 0o600 || kc != paths.KubeletConfig {
		t.Fatalf("kubeconfig %s: %v %v", kc, st, err)
	}
	if b, _ := os.ReadFile(kc); !strings.Contains(string(b), "https://127.0.0.1:6443") || !strings.Contains(string(b), "insecure-skip-tls-verify: true") {
		t.Errorf("kubeconfig:\n%s", b)
	}
	if strings.Contains(strings.Join(kubeletArgv, " "), "K10secret") {
		t.Error("the token is on the kubelet's command line")
	}
	// A second run with the same inputs leaves the files alone.
	before, _ := os.Stat(paths.ContainerdConfig)
	time.Sleep(20 * time.Millisecond)
	if _, _, err := prepare(cfg, n.comps, n.data, "gpu-01"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(paths.ContainerdConfig)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("containerd's config was rewritten although nothing changed")
	}
	// The runtime goes away (toolkit removed): the next start re-detects and re-renders.
	if err := os.Remove(filepath.Join(n.bin, "nvidia-container-runtime")); err != nil {
		t.Fatal(err)
	}
	cfg.DefaultRuntime = ""
	if _, _, err := prepare(cfg, n.comps, n.data, "gpu-01"); err != nil {
		t.Fatal(err)
	}
	text, _ = os.ReadFile(paths.ContainerdConfig)
	if _, ok := parseContainerd(t, string(text)).Plugins.Runtime.Containerd.Runtimes["nvidia"]; ok {
		t.Error("the nvidia runtime stayed in containerd's config after its binary went away")
	}
}

func TestPrepareRefusesAnUndetectedDefaultRuntime(t *testing.T) {
	n := newFakeNode(t, "exit 0")
	t.Setenv("PATH", n.bin)
	cfg := &agentConfig{Server: "https://s:6443", Token: "t", DefaultRuntime: "nvidia", Extra: map[string]any{}}
	_, _, err := prepare(cfg, n.comps, n.data, "n")
	if err == nil || !strings.Contains(err.Error(), `default-runtime "nvidia" was not found on this node (found: runc)`) {
		t.Fatalf("err = %v", err)
	}
	if _, statErr := os.Stat(pathsFor(n.data).ContainerdConfig); statErr == nil {
		t.Error("containerd's config was written although the input was refused")
	}
}

func TestPrepareUsesTheHarnessKubeconfig(t *testing.T) {
	n := newFakeNode(t, "exit 0")
	kc := filepath.Join(n.dir, "kubelet.kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("K3S_STANDIN_KUBELET_KUBECONFIG", kc)
	_, argv, err := prepare(&agentConfig{Server: "https://s:6443", Token: "t", Extra: map[string]any{}}, n.comps, n.data, "n")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := flagValue(argv, "kubeconfig"); got != kc {
		t.Errorf("--kubeconfig=%s, want %s", got, kc)
	}
	if _, err := os.Stat(pathsFor(n.data).KubeletConfig); err == nil {
		t.Error("a kubeconfig was written from the token although the harness gave one")
	}
	t.Setenv("K3S_STANDIN_KUBELET_KUBECONFIG", filepath.Join(n.dir, "missing"))
	if _, _, err := prepare(&agentConfig{Server: "https://s:6443", Token: "t", Extra: map[string]any{}}, n.comps, n.data, "n"); err == nil {
		t.Error("a missing kubeconfig must be an error")
	}
}

func pidAlive(t *testing.T, pidFile string) bool {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("%s: %v", pidFile, err)
	}
	var pid int
	for _, ch := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(ch-'0')
	}
	return syscall.Kill(pid, 0) == nil
}

func TestLaunchExitsWhenTheKubeletExits(t *testing.T) {
	n := newFakeNode(t, "sleep 0.3; exit 3")
	cfg := &agentConfig{Server: "https://127.0.0.1:6443", Token: "t", Extra: map[string]any{}}
	err := launch(cfg, n.comps, n.data, "gpu-01")
	if err == nil || !strings.Contains(err.Error(), "kubelet exited: exit status 3") {
		t.Fatalf("launch: %v", err)
	}
	if pidAlive(t, filepath.Join(n.dir, "containerd.pid")) {
		t.Error("containerd still runs after the kubelet exited")
	}
	argv, _ := os.ReadFile(filepath.Join(n.dir, "kubelet.argv"))
	if !strings.Contains(string(argv), "--hostname-override=gpu-01") || !strings.Contains(string(argv), "--container-runtime-endpoint=unix://"+n.socket) {
		t.Errorf("kubelet argv: %s", argv)
	}
}

// afterKubeletStarts calls do, from a goroutine, once the fake node's kubelet has written its pid
// file (it gives up after 10 s): the outside event a launch test injects while launch runs.
func afterKubeletStarts(n *fakeNode, do func()) {
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(n.dir, "kubelet.pid")); err == nil {
				do()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

func TestLaunchExitsWhenContainerdExits(t *testing.T) {
	n := newFakeNode(t, "exec sleep 30")
	cfg := &agentConfig{Server: "https://127.0.0.1:6443", Token: "t", Extra: map[string]any{}}
	afterKubeletStarts(n, func() {
		b, _ := os.ReadFile(filepath.Join(n.dir, "containerd.pid"))
		var pid int
		for _, ch := range strings.TrimSpace(string(b)) {
			pid = pid*10 + int(ch-'0')
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	})
	err := launch(cfg, n.comps, n.data, "n")
	if err == nil || !strings.Contains(err.Error(), "containerd exited") {
		t.Fatalf("launch: %v", err)
	}
	if pidAlive(t, filepath.Join(n.dir, "kubelet.pid")) {
		t.Error("the kubelet still runs after containerd exited")
	}
}

func TestLaunchStopsBothOnSigterm(t *testing.T) {
	n := newFakeNode(t, "exec sleep 30")
	cfg := &agentConfig{Server: "https://127.0.0.1:6443", Token: "t", Extra: map[string]any{}}
	afterKubeletStarts(n, func() {
		time.Sleep(100 * time.Millisecond)
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	})
	if err := launch(cfg, n.comps, n.data, "n"); err != nil {
		t.Fatalf("launch after SIGTERM: %v", err)
	}
	for _, f := range []string{"kubelet.pid", "containerd.pid"} {
		if pidAlive(t, filepath.Join(n.dir, f)) {
			t.Errorf("%s still alive after SIGTERM", f)
		}
	}
}

func TestRestrictOOMScoreAdjWithoutCapSysResource(t *testing.T) {
	// CapEff lines as /proc/self/status prints them: all capabilities (a root shell here would
	// have them) and the same set without bit 24, as every process of the GPU machine has.
	full := "Name:\tk3s\nCapEff:\t000001ffffffffff\n"
	noSysResource := "Name:\tk3s\nCapEff:\t000001fffeffffff\n"
	if !hasCapability(full, capSysResource) || hasCapability(noSysResource, capSysResource) {
		t.Fatalf("CAP_SYS_RESOURCE read wrong: full=%v without=%v",
			hasCapability(full, capSysResource), hasCapability(noSysResource, capSysResource))
	}
	if !hasCapability("", capSysResource) {
		t.Error("an unreadable status must leave containerd's default (no restriction)")
	}
	for _, restrict := range []bool{false, true} {
		text, err := renderContainerdConfig(containerdParams{Paths: pathsFor("/d"), State: "/s", Socket: "/s/c.sock",
			Snapshotter: "native", PauseImage: "p", CNIBinDir: "/b", RestrictOOMScoreAdj: restrict})
		if err != nil {
			t.Fatal(err)
		}
		if got := parseContainerd(t, text).Plugins.Runtime.RestrictOOMScoreAdj; got != restrict {
			t.Errorf("restrict_oom_score_adj = %v, want %v\n%s", got, restrict, text)
		}
	}
}

// The launcher half of the k3s STAND-IN for k3s_gpu.node tests: what `k3s agent` does once
// its configuration is valid, when the real node components are installed.
//
// K3s's agent renders containerd's config, starts containerd, then starts the kubelet with
// the node's registration settings. This file does the same, in small, following K3s:
//   - runtime detection: k3s-io/k3s pkg/agent/containerd/runtimes.go (findNvidiaContainerRuntimes:
//     handlers nvidia, nvidia-experimental and nvidia-cdi, binaries nvidia-container-runtime,
//     nvidia-container-runtime-experimental and nvidia-container-runtime.cdi, looked up on PATH)
//     and nvidia.go (/usr/local/nvidia/toolkit, the GPU Operator's install dir, which K3s puts in
//     front of PATH so that the operator's toolkit wins over the package's /usr/bin);
//   - containerd's config: pkg/agent/containerd/config_linux.go (setupContainerdConfig) and
//     pkg/agent/templates (ContainerdConfigTemplateV3: version 3, ExtraRuntimes rendered as
//     runtimes.'<name>' with runtime_type and options.BinaryName), written to
//     <data-dir>/agent/etc/containerd/config.toml; containerd run as
//     `containerd -c <config> -a /run/k3s/containerd/containerd.sock --state /run/k3s/containerd
//     --root <data-dir>/agent/containerd` (getContainerdArgs);
//   - paths: pkg/agent/config/config.go (CNIBinDir = the directory holding host-local on PATH,
//     CNIConfDir = <data-dir>/agent/etc/cni/net.d, the kubelet kubeconfig
//     <data-dir>/agent/kubelet.kubeconfig, RuntimeSocket = containerd's address);
//   - kubelet flags: pkg/daemons/agent/agent_linux.go (kubeletArgs: node-labels,
//     register-with-taints, hostname-override, container-runtime-endpoint, cgroup-driver
//     cgroupfs, fail-swap-on=false, eviction thresholds, read-only-port 0, ...) and
//     kubelet-arg appended last so that it overrides (pkg/util GetArgs).
//
// What the stand-in cannot do is K3s's supervisor exchange (the token buys the node a client
// certificate from the server). The harness therefore hands the kubelet its credentials:
// K3S_STANDIN_KUBELET_KUBECONFIG (or config key standin-kubelet-kubeconfig) names a kubeconfig
// to use as is; without it the stand-in writes one from server + token (bearer token,
// server CA from K3S_STANDIN_SERVER_CA / standin-server-ca). See docs/lab.md.
//
// K3s uses flannel; the stand-in writes a plain bridge + host-local + portmap + loopback CNI
// conflist instead, labelled as such. It runs no kube-proxy and no flannel.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// containerd's socket and state directory (K3s's); variables so that tests can move them.
var (
	containerdSocket = "/run/k3s/containerd/containerd.sock"
	containerdState  = "/run/k3s/containerd"
)

const (
	defaultPauseImage  = "docker.io/rancher/mirrored-pause:3.6" // K3s's default (pkg/cli/cmds/agent.go)
	defaultSnapshotter = "overlayfs"
	defaultPodCIDR     = "10.42.0.0/24" // the first node subnet of K3s's default cluster-cidr 10.42.0.0/16
	standinCNIConf     = "10-standin-bridge.conflist"
)

// toolkitDir is where the GPU Operator installs the NVIDIA container toolkit; a variable so
// that tests can point it into a temporary tree.
var toolkitDir = "/usr/local/nvidia/toolkit"

// nvidiaRuntimes are the handlers K3s adds when it finds their binaries (runtimes.go).
var nvidiaRuntimes = []struct{ Name, Binary string }{
	{"nvidia", "nvidia-container-runtime"},
	{"nvidia-experimental", "nvidia-container-runtime-experimental"},
	{"nvidia-cdi", "nvidia-container-runtime.cdi"},
}

// runtimeConfig is one containerd runtime handler, as K3s's templates.ContainerdRuntimeConfig.
type runtimeConfig struct {
	RuntimeType string
	BinaryName  string
}

// findNvidiaRuntimes looks each NVIDIA runtime binary up in toolkitDir, then in the
// directories of path (a PATH value), and returns the handlers found, keyed by name.
func findNvidiaRuntimes(path string) map[string]runtimeConfig {
	dirs := append([]string{toolkitDir}, filepath.SplitList(path)...)
	found := map[string]runtimeConfig{}
	for _, rt := range nvidiaRuntimes {
		if p := lookIn(dirs, rt.Binary); p != "" {
			found[rt.Name] = runtimeConfig{RuntimeType: "io.containerd.runc.v2", BinaryName: p}
		}
	}
	return found
}

// lookIn returns the first dir/name that is an executable regular file, or "".
func lookIn(dirs []string, name string) string {
	for _, d := range dirs {
		if d == "" || !filepath.IsAbs(d) {
			continue // like exec.LookPath since Go 1.19: no relative PATH entries
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// nodePaths are the files and directories K3s's agent uses under its data dir.
type nodePaths struct {
	DataDir          string
	ContainerdConfig string
	ContainerdRoot   string
	ContainerdLog    string
	CNIConfDir       string
	KubeletConfig    string // kubeconfig
	PodManifests     string
}

func pathsFor(dataDir string) nodePaths {
	agent := filepath.Join(dataDir, "agent")
	return nodePaths{
		DataDir:          dataDir,
		ContainerdConfig: filepath.Join(agent, "etc", "containerd", "config.toml"),
		ContainerdRoot:   filepath.Join(agent, "containerd"),
		ContainerdLog:    filepath.Join(agent, "containerd", "containerd.log"),
		CNIConfDir:       filepath.Join(agent, "etc", "cni", "net.d"),
		KubeletConfig:    filepath.Join(agent, "kubelet.kubeconfig"),
		PodManifests:     filepath.Join(agent, "pod-manifests"),
	}
}

// components are the real binaries the launcher runs, and the PATH it runs them with.
type components struct {
	BinDirs    []string
	Containerd string
	Kubelet    string
	CNIBinDir  string
	Path       string
}

// standinSetting reads a stand-in-only setting: the environment wins over the config key.
func standinSetting(cfg *agentConfig, env, key string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	if v, ok := cfg.Extra[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// binDirs are where the real components are looked for: K3S_STANDIN_BIN_DIR (a PATH-like
// list) when set, else K3s's own layout <data-dir>/data/current/bin (and its aux/), then the
// directory of the k3s binary itself.
func binDirs(cfg *agentConfig, dataDir string) []string {
	if v := standinSetting(cfg, "K3S_STANDIN_BIN_DIR", "standin-bin-dir"); v != "" {
		return filepath.SplitList(v)
	}
	current := filepath.Join(dataDir, "data", "current", "bin")
	dirs := []string{current, filepath.Join(current, "aux")}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	return dirs
}

// findComponents locates containerd and the kubelet. Both absent: nil, nil (validation-only
// mode). One without the other, or no CNI host-local plugin: an error that says what is missing.
func findComponents(cfg *agentConfig, dataDir string) (*components, error) {
	dirs := binDirs(cfg, dataDir)
	c := &components{BinDirs: dirs}
	c.Containerd = os.Getenv("K3S_STANDIN_CONTAINERD")
	if c.Containerd == "" {
		c.Containerd = lookIn(dirs, "containerd")
	}
	c.Kubelet = os.Getenv("K3S_STANDIN_KUBELET")
	if c.Kubelet == "" {
		c.Kubelet = lookIn(dirs, "kubelet")
	}
	where := strings.Join(dirs, ":")
	switch {
	case c.Containerd == "" && c.Kubelet == "":
		return nil, nil
	case c.Containerd == "":
		return nil, fmt.Errorf("found the kubelet at %s but no containerd in %s (set K3S_STANDIN_BIN_DIR or K3S_STANDIN_CONTAINERD)", c.Kubelet, where)
	case c.Kubelet == "":
		return nil, fmt.Errorf("found containerd at %s but no kubelet in %s (set K3S_STANDIN_BIN_DIR or K3S_STANDIN_KUBELET)", c.Containerd, where)
	}
	for _, p := range []string{c.Containerd, c.Kubelet} {
		if lookIn([]string{filepath.Dir(p)}, filepath.Base(p)) == "" {
			return nil, fmt.Errorf("%s is not an executable file", p)
		}
	}
	// K3s puts its bin dirs in front of PATH, so that containerd finds its shim and runc, and
	// takes the CNI bin dir from where host-local is found.
	c.Path = strings.Join(append(append([]string{}, dirs...), os.Getenv("PATH")), string(os.PathListSeparator))
	hostLocal := lookIn(filepath.SplitList(c.Path), "host-local")
	if hostLocal == "" {
		return nil, fmt.Errorf("failed to find host-local: the CNI plugins must be in %s or on PATH", where)
	}
	c.CNIBinDir = filepath.Dir(hostLocal)
	return c, nil
}

// containerdTemplate is the stand-in's rendering of K3s's ContainerdConfigTemplateV3, limited
// to what a node without registry mirrors, SELinux or rootless mode needs.
var containerdTemplate = template.Must(template.New("containerd").Parse(`# File generated by k3s (STAND-IN for k3s_gpu.node tests). DO NOT EDIT.
version = 3
root = {{ printf "%q" .Paths.ContainerdRoot }}
state = {{ printf "%q" .State }}

[grpc]
  address = {{ printf "%q" .Socket }}

[plugins.'io.containerd.internal.v1.opt']
  path = {{ printf "%q" .Paths.ContainerdRoot }}

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "10010"

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  device_ownership_from_security_context = false
{{- if .RestrictOOMScoreAdj }}
  restrict_oom_score_adj = true
{{- end }}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = {{ printf "%q" .Snapshotter }}
  disable_snapshot_annotations = true

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = {{ printf "%q" .PauseImage }}

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = [{{ printf "%q" .CNIBinDir }}]
  conf_dir = {{ printf "%q" .Paths.CNIConfDir }}
{{ if .DefaultRuntime }}
[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = {{ printf "%q" .DefaultRuntime }}
{{ end }}
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = false
{{ range $name := .RuntimeNames }}{{ $rt := index $.Runtimes $name }}
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'{{ $name }}']
  runtime_type = {{ printf "%q" $rt.RuntimeType }}

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'{{ $name }}'.options]
  BinaryName = {{ printf "%q" $rt.BinaryName }}
  SystemdCgroup = false
{{ end }}`))

// containerdParams are the inputs of containerd's config.
type containerdParams struct {
	Paths          nodePaths
	State, Socket  string
	Snapshotter    string
	PauseImage     string
	CNIBinDir      string
	DefaultRuntime string
	// RestrictOOMScoreAdj: the agent cannot lower an OOM score (no CAP_SYS_RESOURCE), so
	// containerd must not ask runc for the pod sandbox's -998, which runc's nsexec would
	// fail to write ("failed to update /proc/self/oom_score_adj: Permission denied").
	// K3s sets the same key when it runs in a user namespace (pkg/agent/templates,
	// `{{- if .IsRunningInUserNS }} ... restrict_oom_score_adj = true`).
	RestrictOOMScoreAdj bool
	Runtimes            map[string]runtimeConfig
	RuntimeNames        []string
}

func renderContainerdConfig(p containerdParams) (string, error) {
	p.RuntimeNames = p.RuntimeNames[:0]
	for name := range p.Runtimes {
		p.RuntimeNames = append(p.RuntimeNames, name)
	}
	sort.Strings(p.RuntimeNames)
	var b strings.Builder
	if err := containerdTemplate.Execute(&b, p); err != nil {
		return "", err
	}
	return b.String(), nil
}

// bridgeConflist is the stand-in's CNI network (K3s would run flannel here).
func bridgeConflist(podCIDR string) string {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "k3s-standin-bridge",
		"_comment":   "STAND-IN for k3s_gpu.node tests: K3s uses flannel; this is a plain bridge network",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type": "host-local", "ranges": []any{[]any{map[string]any{"subnet": podCIDR}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
			map[string]any{"type": "loopback"},
		},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return string(b) + "\n"
}

// kubeletArgs derives the kubelet's command line from the agent's configuration, as K3s's
// kubeletArgs does, with kubelet-arg (leading dashes dropped, as K3s drops them) last so
// that a same-named flag overrides the default.
func kubeletArgs(cfg *agentConfig, paths nodePaths, kubeconfig string, nodeName string) []string {
	args := map[string]string{
		"kubeconfig":                 kubeconfig,
		"hostname-override":          nodeName,
		"container-runtime-endpoint": "unix://" + containerdSocket,
		"cgroup-driver":              "cgroupfs",
		"fail-swap-on":               "false",
		"read-only-port":             "0",
		"healthz-bind-address":       "127.0.0.1",
		"eviction-hard":              "imagefs.available<5%,nodefs.available<5%",
		"eviction-minimum-reclaim":   "imagefs.available=10%,nodefs.available=10%",
		"serialize-image-pulls":      "false",
		"pod-manifest-path":          paths.PodManifests,
		"cluster-domain":             "cluster.local",
		"node-labels":                strings.Join(cfg.NodeLabels, ","),
	}
	if len(cfg.NodeTaints) > 0 {
		args["register-with-taints"] = strings.Join(cfg.NodeTaints, ",")
	}
	if cfg.NodeIP != "" {
		args["node-ip"] = cfg.NodeIP
	}
	if ca := standinSetting(cfg, "K3S_STANDIN_KUBELET_CLIENT_CA", "standin-kubelet-client-ca"); ca != "" {
		// K3s: anonymous-auth false, client-ca-file, webhook authentication and authorization.
		args["anonymous-auth"] = "false"
		args["client-ca-file"] = ca
		args["authentication-token-webhook"] = "true"
		args["authorization-mode"] = "Webhook"
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	extra := map[string]string{}
	var extraOrder []string
	for _, a := range cfg.KubeletArgs {
		k, v, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if _, seen := extra[k]; !seen {
			extraOrder = append(extraOrder, k)
		}
		extra[k] = v
	}
	var out []string
	for _, k := range keys {
		if _, overridden := extra[k]; !overridden {
			out = append(out, "--"+k+"="+args[k])
		}
	}
	for _, k := range extraOrder {
		out = append(out, "--"+k+"="+extra[k])
	}
	return out
}

// kubeletKubeconfig returns the kubeconfig the kubelet uses: the one the harness hands over,
// or one written (0600) from server + token.
func kubeletKubeconfig(cfg *agentConfig, paths nodePaths) (string, error) {
	if kc := standinSetting(cfg, "K3S_STANDIN_KUBELET_KUBECONFIG", "standin-kubelet-kubeconfig"); kc != "" {
		if _, err := os.Stat(kc); err != nil {
			return "", fmt.Errorf("kubelet kubeconfig: %v", err)
		}
		return kc, nil
	}
	cluster := fmt.Sprintf("    server: %q\n", cfg.Server)
	if ca := standinSetting(cfg, "K3S_STANDIN_SERVER_CA", "standin-server-ca"); ca != "" {
		cluster += fmt.Sprintf("    certificate-authority: %q\n", ca)
	} else {
		logf("warning", "no server CA given (K3S_STANDIN_SERVER_CA): the kubelet will not verify %s", cfg.Server)
		cluster += "    insecure-skip-tls-verify: true\n"
	}
	text := "# Written by the k3s STAND-IN for k3s_gpu.node tests from server and token.\n" +
		"apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n" + cluster +
		"users:\n- name: node\n  user:\n    token: " + fmt.Sprintf("%q", cfg.Token) + "\n" +
		"contexts:\n- name: local\n  context:\n    cluster: local\n    user: node\ncurrent-context: local\n"
	if err := writeFileIfChanged(paths.KubeletConfig, text, 0o600); err != nil {
		return "", err
	}
	return paths.KubeletConfig, nil
}

// writeFileIfChanged writes path atomically when its content differs, and enforces mode.
func writeFileIfChanged(path, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && string(old) == content {
		return os.Chmod(path, mode)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// prepare renders everything the components need and returns the containerd and kubelet
// command lines. It starts nothing (the unit tests call it).
func prepare(cfg *agentConfig, comps *components, dataDir, nodeName string) (containerdArgv, kubeletArgv []string, err error) {
	paths := pathsFor(dataDir)
	runtimes := findNvidiaRuntimes(os.Getenv("PATH"))
	for _, name := range sortedKeys(runtimes) {
		logf("info", "Found %s container runtime at %s", name, runtimes[name].BinaryName)
	}
	switch cfg.DefaultRuntime {
	case "", "runc":
	default:
		if _, ok := runtimes[cfg.DefaultRuntime]; !ok {
			return nil, nil, fmt.Errorf("default-runtime %q was not found on this node (found: %s)", cfg.DefaultRuntime, strings.Join(append([]string{"runc"}, sortedKeys(runtimes)...), ", "))
		}
	}
	pause := cfg.PauseImage
	if pause == "" {
		pause = defaultPauseImage
	}
	snapshotter := cfg.Snapshotter
	if snapshotter == "" {
		snapshotter = defaultSnapshotter
	}
	text, err := renderContainerdConfig(containerdParams{
		Paths: paths, State: containerdState, Socket: containerdSocket, Snapshotter: snapshotter,
		PauseImage: pause, CNIBinDir: comps.CNIBinDir, DefaultRuntime: cfg.DefaultRuntime, Runtimes: runtimes,
		RestrictOOMScoreAdj: !hasCapability(readProcStatus(), capSysResource),
	})
	if err != nil {
		return nil, nil, err
	}
	if err := writeFileIfChanged(paths.ContainerdConfig, text, 0o600); err != nil {
		return nil, nil, err
	}
	podCIDR := standinSetting(cfg, "K3S_STANDIN_POD_CIDR", "standin-pod-cidr")
	if podCIDR == "" {
		podCIDR = defaultPodCIDR
	}
	if err := writeFileIfChanged(filepath.Join(paths.CNIConfDir, standinCNIConf), bridgeConflist(podCIDR), 0o644); err != nil {
		return nil, nil, err
	}
	for _, d := range []string{paths.PodManifests, paths.ContainerdRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, err
		}
	}
	kubeconfig, err := kubeletKubeconfig(cfg, paths)
	if err != nil {
		return nil, nil, err
	}
	containerdArgv = []string{comps.Containerd, "-c", paths.ContainerdConfig, "-a", containerdSocket,
		"--state", containerdState, "--root", paths.ContainerdRoot}
	kubeletArgv = append([]string{comps.Kubelet}, kubeletArgs(cfg, paths, kubeconfig, nodeName)...)
	return containerdArgv, kubeletArgv, nil
}

func sortedKeys(m map[string]runtimeConfig) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// redactArgs hides a bearer token if one ever appears on a command line (it should not: the
// kubelet reads it from the kubeconfig file).
func redactArgs(args []string, token string) string {
	s := strings.Join(args, " ")
	if token != "" {
		s = strings.ReplaceAll(s, token, "********")
	}
	return s
}

// waitForSocket waits until containerd listens on its socket, or the process exits.
func waitForSocket(path string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if st, err := os.Stat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("containerd exited before serving %s: %v", path, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("containerd did not create %s within %s", path, timeout)
}

// launch starts containerd, waits for its socket, starts the kubelet, and supervises both:
// when either exits, the agent exits non-zero (systemd restarts the unit); on SIGTERM or
// SIGINT it stops the kubelet, then containerd. Shims are left running, as K3s leaves them
// (KillMode=process), so containers survive an agent restart.
func launch(cfg *agentConfig, comps *components, dataDir, nodeName string) error {
	containerdArgv, kubeletArgv, err := prepare(cfg, comps, dataDir, nodeName)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	env := append(os.Environ(), "PATH="+comps.Path)
	paths := pathsFor(dataDir)

	if err := os.MkdirAll(filepath.Dir(containerdSocket), 0o711); err != nil {
		return err
	}
	logFile, err := os.OpenFile(paths.ContainerdLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logf("info", "Running containerd %s", redactArgs(containerdArgv, cfg.Token))
	ctrd := exec.Command(containerdArgv[0], containerdArgv[1:]...)
	ctrd.Env, ctrd.Stdout, ctrd.Stderr = env, logFile, logFile
	// Its own process group: a terminal's ^C reaches the agent only, which stops the children in order.
	ctrd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := ctrd.Start(); err != nil {
		return fmt.Errorf("failed to start containerd: %v", err)
	}
	ctrdDone := make(chan error, 1)
	go func() { ctrdDone <- ctrd.Wait() }()
	if err := waitForSocket(containerdSocket, ctrdDone, 60*time.Second); err != nil {
		_ = ctrd.Process.Kill()
		return err
	}
	logf("info", "containerd is now running (log: %s)", paths.ContainerdLog)

	logf("info", "Running kubelet %s", redactArgs(kubeletArgv, cfg.Token))
	kubelet := exec.Command(kubeletArgv[0], kubeletArgv[1:]...)
	kubelet.Env, kubelet.Stdout, kubelet.Stderr = env, os.Stderr, os.Stderr
	kubelet.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := kubelet.Start(); err != nil {
		stop(ctrd, ctrdDone, "containerd")
		return fmt.Errorf("failed to start kubelet: %v", err)
	}
	kubeletDone := make(chan error, 1)
	go func() { kubeletDone <- kubelet.Wait() }()

	select {
	case s := <-sig:
		logf("info", "Received %v; stopping the kubelet and containerd", s)
		stop(kubelet, kubeletDone, "kubelet")
		stop(ctrd, ctrdDone, "containerd")
		return nil
	case err := <-kubeletDone:
		stop(ctrd, ctrdDone, "containerd")
		return fmt.Errorf("kubelet exited: %v", exitErr(err))
	case err := <-ctrdDone:
		stop(kubelet, kubeletDone, "kubelet")
		return fmt.Errorf("containerd exited: %v", exitErr(err))
	}
}

func exitErr(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// stop sends SIGTERM, waits up to 15 s, then SIGKILL.
func stop(cmd *exec.Cmd, done <-chan error, name string) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		logf("warning", "%s did not stop within 15s; killing it", name)
		_ = cmd.Process.Kill()
		<-done
	}
}

// capSysResource is CAP_SYS_RESOURCE's bit (linux/capability.h): lowering an OOM score needs it.
const capSysResource = 24

// readProcStatus returns /proc/self/status, or "" when it cannot be read.
func readProcStatus() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	return string(b)
}

// hasCapability reports whether the CapEff line of a /proc/<pid>/status text has bit cap.
// An unreadable status counts as having it (containerd's default then applies).
func hasCapability(status string, cap uint) bool {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return true
			}
			return mask&(1<<cap) != 0
		}
	}
	return true
}

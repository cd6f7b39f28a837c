// Command k3s is a STAND-IN for k3s_gpu.node tests: it is not K3s. It checks what the
// k3s_agent role hands to K3s the way K3s does, instead of faking success:
//
//	k3s --version | -v | version     prints "k3s version <v> (<commit>)" and the Go version
//	k3s agent [flags]                 reads /etc/rancher/k3s/config.yaml and config.yaml.d/*.yaml,
//	                                  the token file and K3S_* variables and validates them; then,
//	                                  when the real containerd and kubelet are installed, renders
//	                                  containerd's config and launches and supervises both, as
//	                                  K3s's agent does (launcher.go); without them it logs that it
//	                                  runs in validation-only mode and runs until SIGTERM (so
//	                                  systemd sees an active unit)
//	k3s check-config                  a short report, exit 0
//
// Version and commit are set with -ldflags "-X main.version=... -X main.commit=...", so
// each mirrored release gets its own binary. Error messages follow K3s's
// (pkg/cli/agent/agent.go: "--token is required", "--server is required"; errors are
// logged as level=fatal msg="Error: ...", as K3s's main does) and Kubernetes' taint parser
// ("invalid taint spec", "invalid taint effect: X, unsupported taint effect").
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	version = "v0.0.0+k3s0"
	commit  = "00000000"
)

const (
	defaultConfig  = "/etc/rancher/k3s/config.yaml"
	defaultDataDir = "/var/lib/rancher/k3s"
)

func logf(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "time=%q level=%s msg=%q\n", time.Now().UTC().Format(time.RFC3339), level, msg)
}

func fatal(err error) {
	logf("fatal", "Error: %v", err)
	os.Exit(1)
}

// agentConfig holds what the agent subcommand accepts (flags and config keys share names).
type agentConfig struct {
	Server         string
	Token          string
	TokenFile      string
	NodeName       string
	NodeTaints     []string
	NodeLabels     []string
	DefaultRuntime string
	DataDir        string
	PauseImage     string
	Snapshotter    string
	NodeIP         string
	KubeletArgs    []string
	Extra          map[string]any
}

// listKeys are the keys K3s treats as string slices; config files may give a list or a string.
var listKeys = map[string]bool{"node-taint": true, "node-label": true, "kubelet-arg": true,
	"kube-proxy-arg": true, "node-ip": true, "node-external-ip": true}

func toStrings(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{t}, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				s = fmt.Sprint(x)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return []string{fmt.Sprint(t)}, nil
	}
}

// loadConfig reads config.yaml then config.yaml.d/*.yaml (sorted); later files win, and a
// key ending in "+" appends to a list instead of replacing it, as K3s documents.
func loadConfig(path string, mustExist bool) (map[string]any, error) {
	merged := map[string]any{}
	files := []string{path}
	extra, _ := filepath.Glob(path + ".d/*.yaml")
	sort.Strings(extra)
	files = append(files, extra...)
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if i == 0 && errors.Is(err, os.ErrNotExist) && !mustExist {
				continue
			}
			return nil, err
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("failed to parse %s: %v", f, err)
		}
		for k, v := range doc {
			if strings.HasSuffix(k, "+") {
				base := strings.TrimSuffix(k, "+")
				prev, _ := toStrings(merged[base])
				add, _ := toStrings(v)
				merged[base] = toAny(append(prev, add...))
				continue
			}
			merged[k] = v
		}
	}
	return merged, nil
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

var (
	qualifiedName = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValue    = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
)

// parseTaint follows k8s.io/kubernetes/pkg/util/taints.parseTaint: key[=value]:effect.
func parseTaint(st string) error {
	parts := strings.Split(st, ":")
	if len(parts) != 2 || parts[1] == "" {
		return fmt.Errorf("invalid taint spec: %v", st)
	}
	switch parts[1] {
	case "NoSchedule", "PreferNoSchedule", "NoExecute":
	default:
		return fmt.Errorf("invalid taint spec: %v, invalid taint effect: %v, unsupported taint effect", st, parts[1])
	}
	kv := strings.SplitN(parts[0], "=", 2)
	if !qualifiedName.MatchString(kv[0]) || len(kv[0]) > 316 {
		return fmt.Errorf("invalid taint spec: %v, name part must consist of alphanumeric characters, '-', '_' or '.'", st)
	}
	if len(kv) == 2 && (!labelValue.MatchString(kv[1]) || len(kv[1]) > 63) {
		return fmt.Errorf("invalid taint spec: %v, a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'", st)
	}
	return nil
}

func parseLabel(s string) error {
	kv := strings.SplitN(s, "=", 2)
	if len(kv) != 2 || !qualifiedName.MatchString(kv[0]) || !labelValue.MatchString(kv[1]) || len(kv[1]) > 63 {
		return fmt.Errorf("invalid node-label %q: must be key=value with a valid label key and value", s)
	}
	return nil
}

// parseFlags handles --name value, --name=value, -s/-t short forms and repeatable slices.
func parseFlags(args []string) (map[string][]string, error) {
	short := map[string]string{"s": "server", "t": "token", "c": "config", "d": "data-dir"}
	boolFlags := map[string]bool{"debug": true, "rootless": true, "docker": true, "selinux": true,
		"protect-kernel-defaults": true, "prefer-bundled-bin": true, "disable-apiserver-lb": true,
		"lb-server-port": false}
	out := map[string][]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("unexpected argument %q", a)
		}
		name := strings.TrimLeft(a, "-")
		val := ""
		hasVal := false
		if n, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = n, v, true
		}
		if long, ok := short[name]; ok {
			name = long
		}
		if boolFlags[name] {
			out[name] = append(out[name], "true")
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag needs an argument: -%s", name)
			}
			i++
			val = args[i]
		}
		out[name] = append(out[name], val)
	}
	return out, nil
}

func buildAgentConfig(args []string) (*agentConfig, error) {
	flags, err := parseFlags(args)
	if err != nil {
		return nil, fmt.Errorf("Incorrect Usage: %v", err)
	}
	cfgPath := defaultConfig
	explicit := false
	if v, ok := flags["config"]; ok {
		cfgPath, explicit = v[len(v)-1], true
	} else if v := os.Getenv("K3S_CONFIG_FILE"); v != "" {
		cfgPath, explicit = v, true
	}
	file, err := loadConfig(cfgPath, explicit)
	if err != nil {
		return nil, err
	}
	cfg := &agentConfig{Extra: map[string]any{}}
	get := func(key, env string) string {
		if v, ok := flags[key]; ok {
			return v[len(v)-1]
		}
		if v, ok := file[key]; ok {
			return fmt.Sprint(v)
		}
		return os.Getenv(env)
	}
	list := func(key string) ([]string, error) {
		fromFile, err := toStrings(file[key])
		if err != nil {
			return nil, err
		}
		return append(fromFile, flags[key]...), nil
	}
	cfg.Server = get("server", "K3S_URL")
	cfg.Token = get("token", "K3S_TOKEN")
	cfg.TokenFile = get("token-file", "K3S_TOKEN_FILE")
	cfg.NodeName = get("node-name", "K3S_NODE_NAME")
	cfg.DefaultRuntime = get("default-runtime", "")
	cfg.DataDir = get("data-dir", "")
	if cfg.NodeTaints, err = list("node-taint"); err != nil {
		return nil, err
	}
	if cfg.NodeLabels, err = list("node-label"); err != nil {
		return nil, err
	}
	if cfg.KubeletArgs, err = list("kubelet-arg"); err != nil {
		return nil, err
	}
	nodeIPs, err := list("node-ip")
	if err != nil {
		return nil, err
	}
	cfg.NodeIP = strings.Join(nodeIPs, ",")
	cfg.PauseImage = get("pause-image", "")
	cfg.Snapshotter = get("snapshotter", "")
	for k, v := range file {
		switch k {
		case "server", "token", "token-file", "node-name", "node-taint", "node-label", "default-runtime", "data-dir",
			"kubelet-arg", "node-ip", "pause-image", "snapshotter":
		default:
			cfg.Extra[k] = v
		}
	}
	return cfg, nil
}

func validate(cfg *agentConfig) error {
	if cfg.TokenFile != "" {
		data, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return err
		}
		cfg.Token = strings.TrimSpace(string(data))
	}
	if cfg.Token == "" {
		return errors.New("--token is required")
	}
	if cfg.Server == "" {
		return errors.New("--server is required")
	}
	u, err := url.Parse(cfg.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("invalid server url %q: the server must be an https:// URL such as https://server:6443", cfg.Server)
	}
	for _, t := range cfg.NodeTaints {
		if err := parseTaint(t); err != nil {
			return fmt.Errorf("failed to parse node-taint: %v", err)
		}
	}
	for _, l := range cfg.NodeLabels {
		if err := parseLabel(l); err != nil {
			return err
		}
	}
	switch cfg.DefaultRuntime {
	case "", "runc", "nvidia", "nvidia-experimental", "nvidia-cdi", "crun":
	default:
		logf("warning", "default-runtime %q is not a runtime K3s detected; containerd will fail to start pods", cfg.DefaultRuntime)
	}
	return nil
}

func runAgent(args []string) {
	cfg, err := buildAgentConfig(args)
	if err != nil {
		fatal(err)
	}
	if err := validate(cfg); err != nil {
		fatal(err)
	}
	node := cfg.NodeName
	if node == "" {
		node, _ = os.Hostname()
	}
	dataDir := cfg.DataDir
	if dataDir == "" {
		dataDir = defaultDataDir
	}
	logf("info", "Starting k3s agent %s (%s)", version, commit)
	comps, err := findComponents(cfg, dataDir)
	if err != nil {
		fatal(err)
	}
	mode := "validation-only"
	if comps != nil {
		mode = "launcher"
	}
	writeState(cfg, node, dataDir, mode)
	if comps == nil {
		logf("info", "Stand-in: would join %s as node %q with taints %v labels %v default-runtime %q (STAND-IN for k3s_gpu.node tests; no kubelet runs)",
			cfg.Server, node, cfg.NodeTaints, cfg.NodeLabels, cfg.DefaultRuntime)
		logf("info", "Stand-in: validation-only mode: no containerd or kubelet in %s, so nothing is launched", strings.Join(binDirs(cfg, dataDir), ":"))
		if _, err := os.Stat("/usr/bin/nvidia-container-runtime"); err == nil {
			logf("info", "Found nvidia container runtime at /usr/bin/nvidia-container-runtime")
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		s := <-sig
		logf("info", "Received %v; shutting down", s)
		return
	}
	logf("info", "Stand-in: launcher mode: joining %s as node %q with taints %v labels %v default-runtime %q (containerd %s, kubelet %s)",
		cfg.Server, node, cfg.NodeTaints, cfg.NodeLabels, cfg.DefaultRuntime, comps.Containerd, comps.Kubelet)
	if err := launch(cfg, comps, dataDir, node); err != nil {
		fatal(err)
	}
}

// writeState records what the agent was configured with (never the token), for tests.
func writeState(cfg *agentConfig, node, dataDir, mode string) {
	state := map[string]any{
		"version": version, "server": cfg.Server, "node_name": node, "node_taints": cfg.NodeTaints,
		"node_labels": cfg.NodeLabels, "default_runtime": cfg.DefaultRuntime, "token_set": cfg.Token != "",
		"token_file": cfg.TokenFile, "started": time.Now().UTC().Format(time.RFC3339), "pid": os.Getpid(),
		"nvidia_runtime": fileExists("/usr/bin/nvidia-container-runtime"), "mode": mode,
		"kubelet_args": cfg.KubeletArgs,
	}
	stateFile := filepath.Join(dataDir, "agent", "standin-state.json")
	if b, err := json.MarshalIndent(state, "", "  "); err == nil {
		_ = os.MkdirAll(filepath.Dir(stateFile), 0o755)
		_ = os.WriteFile(stateFile, append(b, '\n'), 0o600)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fmt.Println("NAME:\n   k3s - Kubernetes, but small and simple (STAND-IN for k3s_gpu.node tests)")
		fmt.Println("\nCOMMANDS:\n   agent          Run node agent\n   check-config   Run config check")
		return
	}
	switch args[0] {
	case "--version", "-v", "version":
		fmt.Printf("k3s version %s (%s)\n", version, commit)
		fmt.Printf("go version %s\n", runtime.Version())
	case "agent":
		runAgent(args[1:])
	case "check-config":
		fmt.Println("STAND-IN for k3s_gpu.node tests: k3s check-config")
		fmt.Println("System: pass (stand-in checks nothing)")
	case "server", "kubectl", "crictl", "ctr", "etcd-snapshot", "secrets-encrypt", "certificate", "token":
		fmt.Fprintf(os.Stderr, "k3s %s is not available in the STAND-IN for k3s_gpu.node tests\n", args[0])
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "No help topic for '%s'\n", args[0])
		os.Exit(3)
	}
}

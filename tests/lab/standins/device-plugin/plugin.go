package main

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const (
	resourceName = "nvidia.com/gpu"
	socketName   = "nvidia-gpu.sock" // "nvidia-" + the resource's name part, as NVIDIA's plugin names it
	// visibleDevicesEnv is what the NVIDIA container runtime reads (envvar strategy).
	visibleDevicesEnv = "NVIDIA_VISIBLE_DEVICES"
	// cdiPluginName is the plugin name in the CDI annotation key (NVIDIA's getCDIDeviceAnnotations).
	cdiPluginName = "nvidia-device-plugin"
	cdiKind       = "nvidia.com/gpu" // the CDI kind of nvidia-ctk cdi generate's GPU devices
)

// options are the plugin's settings (NVIDIA's flag names).
type options struct {
	NvidiaSMI           string
	DeviceListStrategy  string
	DeviceIDStrategy    string
	CDIAnnotationPrefix string
	PluginDir           string
	KubeletSocket       string
	strategies          map[string]bool
}

func defaultOptions() options {
	return options{
		NvidiaSMI:           "nvidia-smi",
		DeviceListStrategy:  "envvar",
		DeviceIDStrategy:    "uuid",
		CDIAnnotationPrefix: "cdi.k8s.io/",
		PluginDir:           pluginapi.DevicePluginPath,
		KubeletSocket:       pluginapi.KubeletSocket,
	}
}

func (o *options) validate() error {
	o.strategies = map[string]bool{}
	for _, s := range strings.Split(o.DeviceListStrategy, ",") {
		s = strings.TrimSpace(s)
		switch s {
		case "envvar", "cdi-annotations", "cdi-cri":
			o.strategies[s] = true
		default:
			return fmt.Errorf("invalid --device-list-strategy %q: use envvar, cdi-annotations or cdi-cri (comma-separated)", s)
		}
	}
	switch o.DeviceIDStrategy {
	case "uuid", "index":
	default:
		return fmt.Errorf("invalid --device-id-strategy %q: use uuid or index", o.DeviceIDStrategy)
	}
	if !strings.HasSuffix(o.CDIAnnotationPrefix, "/") {
		return fmt.Errorf("invalid --cdi-annotation-prefix %q: it must end with /", o.CDIAnnotationPrefix)
	}
	return nil
}

// gpu is one GPU as nvidia-smi lists it.
type gpu struct {
	Index int
	UUID  string
}

var uuidPattern = regexp.MustCompile(`^GPU-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// queryFields is what the plugin asks nvidia-smi for; parseGPUs reads them in this order.
const queryFields = "index,uuid"

// listGPUs runs nvidia-smi and parses its answer.
func listGPUs(nvidiaSMI string) ([]gpu, error) {
	cmd := exec.Command(nvidiaSMI, "--query-gpu="+queryFields, "--format=csv,noheader")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s --query-gpu=%s failed: %v: %s%s", nvidiaSMI, queryFields, err, strings.TrimSpace(string(out)), strings.TrimSpace(stderr.String()))
	}
	return parseGPUs(string(out))
}

// parseGPUs reads `nvidia-smi --query-gpu=index,uuid --format=csv,noheader` output.
func parseGPUs(text string) ([]gpu, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("unreadable nvidia-smi output: %v", err)
	}
	var gpus []gpu
	seen := map[string]bool{}
	for i, row := range rows {
		if len(row) != 2 {
			return nil, fmt.Errorf("nvidia-smi line %d: %d fields, want 2 (%s): %q", i+1, len(row), queryFields, strings.Join(row, ", "))
		}
		idx, err := strconv.Atoi(strings.TrimSpace(row[0]))
		if err != nil {
			return nil, fmt.Errorf("nvidia-smi line %d: index %q is not a number", i+1, row[0])
		}
		uuid := strings.TrimSpace(row[1])
		if !uuidPattern.MatchString(uuid) {
			return nil, fmt.Errorf("nvidia-smi line %d: %q is not a GPU UUID", i+1, uuid)
		}
		if seen[uuid] {
			return nil, fmt.Errorf("nvidia-smi line %d: GPU %s listed twice", i+1, uuid)
		}
		seen[uuid] = true
		gpus = append(gpus, gpu{Index: idx, UUID: uuid})
	}
	if len(gpus) == 0 {
		return nil, errors.New("nvidia-smi lists no GPU: nothing to advertise")
	}
	return gpus, nil
}

// plugin is the device-plugin gRPC service.
type plugin struct {
	pluginapi.UnimplementedDevicePluginServer
	opts    options
	devices []gpu
	byUUID  map[string]gpu
	mu      sync.Mutex
	stop    chan struct{} // closed to end the ListAndWatch streams of one registration
}

func (p *plugin) stopChan() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stop
}

// endStreams ends the current ListAndWatch streams and prepares a fresh channel.
func (p *plugin) endStreams() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.stop)
	p.stop = make(chan struct{})
}

func newPlugin(opts options, devices []gpu) *plugin {
	p := &plugin{opts: opts, devices: devices, byUUID: map[string]gpu{}, stop: make(chan struct{})}
	for _, d := range devices {
		p.byUUID[d.UUID] = d
	}
	return p
}

func (p *plugin) apiDevices() []*pluginapi.Device {
	out := make([]*pluginapi.Device, 0, len(p.devices))
	for _, d := range p.devices {
		out = append(out, &pluginapi.Device{ID: d.UUID, Health: pluginapi.Healthy})
	}
	return out
}

func (p *plugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{}, nil
}

func (p *plugin) ListAndWatch(_ *pluginapi.Empty, s grpc.ServerStreamingServer[pluginapi.ListAndWatchResponse]) error {
	if err := s.Send(&pluginapi.ListAndWatchResponse{Devices: p.apiDevices()}); err != nil {
		return err
	}
	select {
	case <-p.stopChan():
	case <-s.Context().Done():
	}
	return nil
}

func (p *plugin) PreStartContainer(context.Context, *pluginapi.PreStartContainerRequest) (*pluginapi.PreStartContainerResponse, error) {
	return &pluginapi.PreStartContainerResponse{}, nil
}

// Allocate answers for each container with the devices' IDs, the way the configured
// strategies pass them to the container runtime.
func (p *plugin) Allocate(_ context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	resp := &pluginapi.AllocateResponse{}
	for _, creq := range req.ContainerRequests {
		var ids []string
		for _, id := range creq.DevicesIds {
			d, ok := p.byUUID[id]
			if !ok {
				return nil, fmt.Errorf("invalid allocation request for '%s': unknown device: %s", resourceName, id)
			}
			if p.opts.DeviceIDStrategy == "index" {
				ids = append(ids, strconv.Itoa(d.Index))
			} else {
				ids = append(ids, d.UUID)
			}
		}
		cresp := &pluginapi.ContainerAllocateResponse{}
		if p.opts.strategies["envvar"] {
			cresp.Envs = map[string]string{visibleDevicesEnv: strings.Join(ids, ",")}
		}
		var cdiNames []string
		for _, id := range ids {
			cdiNames = append(cdiNames, cdiKind+"="+id)
		}
		if p.opts.strategies["cdi-annotations"] && len(cdiNames) > 0 {
			key := p.opts.CDIAnnotationPrefix + cdiPluginName + "_" + responseID()
			cresp.Annotations = map[string]string{key: strings.Join(cdiNames, ",")}
		}
		if p.opts.strategies["cdi-cri"] {
			for _, n := range cdiNames {
				cresp.CdiDevices = append(cresp.CdiDevices, &pluginapi.CDIDevice{Name: n})
			}
		}
		resp.ContainerResponses = append(resp.ContainerResponses, cresp)
	}
	return resp, nil
}

// responseID is a random UUID-shaped ID, as NVIDIA's plugin uses one per response.
func responseID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// serve listens on the plugin socket and serves until stop; it returns once the socket accepts.
func (p *plugin) serve() (*grpc.Server, string, error) {
	sock := filepath.Join(p.opts.PluginDir, socketName)
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		return nil, "", err
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, "", err
	}
	srv := grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(srv, p)
	go func() { _ = srv.Serve(l) }()
	return srv, sock, nil
}

// register tells the kubelet about the plugin.
func (p *plugin) register(ctx context.Context) error {
	conn, err := grpc.NewClient("unix://"+p.opts.KubeletSocket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version: pluginapi.Version, Endpoint: socketName, ResourceName: resourceName,
		Options: &pluginapi.DevicePluginOptions{},
	}, grpc.WaitForReady(true))
	if err != nil {
		return fmt.Errorf("could not register with the kubelet at %s: %v", p.opts.KubeletSocket, err)
	}
	return nil
}

// inode identifies a socket file, so that a kubelet restart (a new kubelet.sock) is noticed.
func inode(path string) uint64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}

// run serves and registers, and does both again whenever the kubelet restarts (it removes
// the plugin sockets and makes a new kubelet.sock), until ctx ends.
func (p *plugin) run(ctx context.Context, poll time.Duration) error {
	for {
		srv, sock, err := p.serve()
		if err != nil {
			return err
		}
		logf("serving %s on %s", resourceName, sock)
		if err := p.register(ctx); err != nil {
			srv.Stop()
			return err
		}
		kubeletIno := inode(p.opts.KubeletSocket)
		logf("registered %s with the kubelet (%d device(s))", resourceName, len(p.devices))
		restart := false
		for !restart {
			select {
			case <-ctx.Done():
				p.endStreams()
				srv.Stop()
				_ = os.Remove(sock)
				return nil
			case <-time.After(poll):
			}
			if _, err := os.Stat(sock); err != nil || inode(p.opts.KubeletSocket) != kubeletIno {
				restart = true
			}
		}
		logf("the kubelet restarted; registering again")
		p.endStreams()
		srv.Stop()
		for inode(p.opts.KubeletSocket) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(poll):
			}
		}
	}
}

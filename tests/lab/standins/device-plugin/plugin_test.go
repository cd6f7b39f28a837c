package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

const (
	uuid0 = "GPU-94b29e3d-a6fb-c816-5dce-8371087f8c1b"
	uuid1 = "GPU-a07a301b-3c6e-4759-7e26-711ec9affe35"
)

// fakeSMI is an nvidia-smi that prints a captured output when asked what the plugin asks.
func fakeSMI(t *testing.T, fixture string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nvidia-smi")
	script := "#!/bin/sh\n[ \"$*\" = \"--query-gpu=index,uuid --format=csv,noheader\" ] || { echo \"unexpected: $*\" >&2; exit 2; }\ncat " + abs + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDevicesFromNvidiaSMI(t *testing.T) {
	gpus, err := listGPUs(fakeSMI(t, "h200-2gpu-derived-query-index-uuid.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []gpu{{0, uuid0}, {1, uuid1}}; !slices.Equal(gpus, want) {
		t.Fatalf("gpus %v, want %v", gpus, want)
	}
	one, err := listGPUs(fakeSMI(t, "h100-1gpu-derived-query-index-uuid.csv"))
	if err != nil || len(one) != 1 || one[0].UUID != "GPU-90f3fe77-0eb9-af1e-31b3-15c1c7558cc9" {
		t.Fatalf("h100: %v %v", one, err)
	}
	p := newPlugin(mustOptions(t, "envvar", "uuid"), gpus)
	for i, d := range p.apiDevices() {
		if d.ID != gpus[i].UUID || d.Health != pluginapi.Healthy {
			t.Errorf("device %d: %+v", i, d)
		}
	}
}

func TestNvidiaSMIErrorsAreClear(t *testing.T) {
	if _, err := parseGPUs(readFixture(t, "h200-2gpu-query-gpu.csv")); err == nil || !strings.Contains(err.Error(), "15 fields, want 2") {
		t.Errorf("other query fields: %v", err)
	}
	if _, err := parseGPUs(""); err == nil || !strings.Contains(err.Error(), "lists no GPU") {
		t.Errorf("no GPU: %v", err)
	}
	if _, err := parseGPUs("0, GPU-nope\n"); err == nil || !strings.Contains(err.Error(), "not a GPU UUID") {
		t.Errorf("bad uuid: %v", err)
	}
	if _, err := parseGPUs("0, " + uuid0 + "\n1, " + uuid0 + "\n"); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate: %v", err)
	}
	smi := filepath.Join(t.TempDir(), "nvidia-smi")
	if err := os.WriteFile(smi, []byte("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'\nexit 9\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := listGPUs(smi); err == nil || !strings.Contains(err.Error(), "exit status 9") || !strings.Contains(err.Error(), "could not communicate") {
		t.Errorf("driver not loaded: %v", err)
	}
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustOptions(t *testing.T, strategies, ids string) options {
	t.Helper()
	o := defaultOptions()
	o.DeviceListStrategy, o.DeviceIDStrategy = strategies, ids
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOptionsRefuseUnknownStrategies(t *testing.T) {
	o := defaultOptions()
	o.DeviceListStrategy = "envvar,volume-mounts"
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), `invalid --device-list-strategy "volume-mounts"`) {
		t.Errorf("volume-mounts: %v", err)
	}
	o = defaultOptions()
	o.DeviceIDStrategy = "serial"
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "use uuid or index") {
		t.Errorf("serial: %v", err)
	}
}

func allocate(t *testing.T, p *plugin, ids ...string) *pluginapi.ContainerAllocateResponse {
	t.Helper()
	resp, err := p.Allocate(context.Background(), &pluginapi.AllocateRequest{
		ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: ids}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ContainerResponses) != 1 {
		t.Fatalf("responses: %v", resp)
	}
	return resp.ContainerResponses[0]
}

func TestAllocateEnvvar(t *testing.T) {
	gpus := []gpu{{0, uuid0}, {1, uuid1}}
	p := newPlugin(mustOptions(t, "envvar", "uuid"), gpus)
	if r := allocate(t, p, uuid1); r.Envs["NVIDIA_VISIBLE_DEVICES"] != uuid1 || len(r.CdiDevices) != 0 || len(r.Annotations) != 0 {
		t.Errorf("1 device: %+v", r)
	}
	if r := allocate(t, p, uuid0, uuid1); r.Envs["NVIDIA_VISIBLE_DEVICES"] != uuid0+","+uuid1 {
		t.Errorf("2 devices: %+v", r)
	}
	p = newPlugin(mustOptions(t, "envvar", "index"), gpus)
	if r := allocate(t, p, uuid1, uuid0); r.Envs["NVIDIA_VISIBLE_DEVICES"] != "1,0" {
		t.Errorf("index strategy: %+v", r)
	}
}

func TestAllocateCDI(t *testing.T) {
	gpus := []gpu{{0, uuid0}, {1, uuid1}}
	p := newPlugin(mustOptions(t, "cdi-cri", "uuid"), gpus)
	r := allocate(t, p, uuid0)
	if len(r.CdiDevices) != 1 || r.CdiDevices[0].Name != "nvidia.com/gpu="+uuid0 || r.Envs != nil {
		t.Errorf("cdi-cri, 1 device: %+v", r)
	}
	r = allocate(t, p, uuid0, uuid1)
	var names []string
	for _, d := range r.CdiDevices {
		names = append(names, d.Name)
	}
	if !slices.Equal(names, []string{"nvidia.com/gpu=" + uuid0, "nvidia.com/gpu=" + uuid1}) {
		t.Errorf("cdi-cri, 2 devices: %v", names)
	}
	p = newPlugin(mustOptions(t, "cdi-annotations,cdi-cri", "index"), gpus)
	r = allocate(t, p, uuid0, uuid1)
	if len(r.Annotations) != 1 {
		t.Fatalf("annotations: %v", r.Annotations)
	}
	for k, v := range r.Annotations {
		if !strings.HasPrefix(k, "cdi.k8s.io/nvidia-device-plugin_") || len(strings.SplitN(k, "/", 2)[1]) > 63 {
			t.Errorf("annotation key %q", k)
		}
		if v != "nvidia.com/gpu=0,nvidia.com/gpu=1" {
			t.Errorf("annotation value %q", v)
		}
	}
	if len(r.CdiDevices) != 2 || r.CdiDevices[1].Name != "nvidia.com/gpu=1" {
		t.Errorf("cdi-cri with index ids: %+v", r.CdiDevices)
	}
}

func TestAllocateRefusesUnknownDevice(t *testing.T) {
	p := newPlugin(mustOptions(t, "envvar", "uuid"), []gpu{{0, uuid0}})
	_, err := p.Allocate(context.Background(), &pluginapi.AllocateRequest{
		ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: []string{uuid0, uuid1}}}})
	if err == nil || err.Error() != "invalid allocation request for 'nvidia.com/gpu': unknown device: "+uuid1 {
		t.Fatalf("err = %v", err)
	}
}

// fakeKubelet serves the kubelet's Registration service on a unix socket and records requests.
type fakeKubelet struct {
	pluginapi.UnimplementedRegistrationServer
	got chan *pluginapi.RegisterRequest
}

func (k *fakeKubelet) Register(_ context.Context, r *pluginapi.RegisterRequest) (*pluginapi.Empty, error) {
	k.got <- r
	return &pluginapi.Empty{}, nil
}

func startKubelet(t *testing.T, sock string) (*fakeKubelet, *grpc.Server) {
	t.Helper()
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKubelet{got: make(chan *pluginapi.RegisterRequest, 4)}
	srv := grpc.NewServer()
	pluginapi.RegisterRegistrationServer(srv, k)
	go func() { _ = srv.Serve(l) }()
	return k, srv
}

func TestGRPCRegisterListAndWatchAllocate(t *testing.T) {
	// Unix socket paths are limited to 108 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "dp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opts := mustOptions(t, "envvar,cdi-cri", "uuid")
	opts.PluginDir, opts.KubeletSocket = dir, filepath.Join(dir, "kubelet.sock")
	kubelet, ksrv := startKubelet(t, opts.KubeletSocket)
	p := newPlugin(opts, []gpu{{0, uuid0}, {1, uuid1}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.run(ctx, 50*time.Millisecond) }()

	var reg *pluginapi.RegisterRequest
	select {
	case reg = <-kubelet.got:
	case <-time.After(10 * time.Second):
		t.Fatal("the plugin did not register")
	}
	if reg.ResourceName != "nvidia.com/gpu" || reg.Endpoint != "nvidia-gpu.sock" || reg.Version != "v1beta1" {
		t.Errorf("register request: %+v", reg)
	}

	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, reg.Endpoint), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pluginapi.NewDevicePluginClient(conn)
	stream, err := client.ListAndWatch(ctx, &pluginapi.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Devices) != 2 || list.Devices[0].ID != uuid0 || list.Devices[1].ID != uuid1 || list.Devices[1].Health != "Healthy" {
		t.Errorf("ListAndWatch: %v", list.Devices)
	}
	resp, err := client.Allocate(ctx, &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{
		{DevicesIds: []string{uuid1}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := resp.ContainerResponses[0]
	if c.Envs["NVIDIA_VISIBLE_DEVICES"] != uuid1 || len(c.CdiDevices) != 1 || c.CdiDevices[0].Name != "nvidia.com/gpu="+uuid1 {
		t.Errorf("Allocate: %+v", c)
	}
	if _, err := client.Allocate(ctx, &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{
		{DevicesIds: []string{"GPU-00000000-0000-0000-0000-000000000000"}}}}); err == nil || !strings.Contains(err.Error(), "unknown device") {
		t.Errorf("unknown device through gRPC: %v", err)
	}

	// The kubelet restarts: a new kubelet.sock, the plugin's socket removed. The plugin registers again.
	ksrv.Stop()
	_ = os.Remove(filepath.Join(dir, "nvidia-gpu.sock"))
	kubelet2, ksrv2 := startKubelet(t, opts.KubeletSocket)
	defer ksrv2.Stop()
	select {
	case reg = <-kubelet2.got:
	case <-time.After(10 * time.Second):
		t.Fatal("the plugin did not register again after the kubelet restarted")
	}
	if _, err := os.Stat(filepath.Join(dir, "nvidia-gpu.sock")); err != nil {
		t.Errorf("plugin socket after re-registration: %v", err)
	}
	if _, err := stream.Recv(); err == nil {
		t.Error("the old ListAndWatch stream should end when the plugin re-registers")
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nvidia-gpu.sock")); !os.IsNotExist(err) {
		t.Errorf("the plugin socket survived the plugin: %v", err)
	}
}

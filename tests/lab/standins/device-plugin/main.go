// Command nvidia-device-plugin is a STAND-IN for k3s_gpu.node tests: it is not NVIDIA's
// device plugin (github.com/NVIDIA/k8s-device-plugin, which the Go module proxy does not
// serve). It does the part of that plugin a GPU node needs to run the article's pod, on the
// kubelet's device-plugin API (k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1):
//
//   - registers the resource nvidia.com/gpu with the kubelet, serving on
//     /var/lib/kubelet/device-plugins/nvidia-gpu.sock, as NVIDIA's plugin does
//     (internal/plugin/server.go: pluginName "nvidia-" + "gpu", Register with the kubelet socket);
//   - advertises one healthy device per GPU, its ID the GPU's UUID, read from
//     `nvidia-smi --query-gpu=index,uuid --format=csv,noheader` (NVIDIA's reads NVML:
//     internal/rm/nvml_devices.go);
//   - ListAndWatch sends that list (it runs no health checks: internal/rm/health.go's NVML
//     event loop is left out) and re-registers when the kubelet restarts;
//   - Allocate refuses unknown device IDs ("invalid allocation request for 'nvidia.com/gpu':
//     unknown device: ...", server.go) and answers with the device list strategies of
//     NVIDIA's plugin (api/config/v1 DeviceListStrategy; server.go getAllocateResponse):
//     envvar (the default): NVIDIA_VISIBLE_DEVICES=<ids>; cdi-annotations: the annotation
//     cdi.k8s.io/nvidia-device-plugin_<response id> = nvidia.com/gpu=<id>,...; cdi-cri: the
//     response's CDIDevices nvidia.com/gpu=<id>. <id> is the UUID, or the index with
//     --device-id-strategy=index (server.go deviceIDsFromAnnotatedDeviceIDs).
//
// Build (static): CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o nvidia-device-plugin .
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	opts := defaultOptions()
	flag.StringVar(&opts.NvidiaSMI, "nvidia-smi", opts.NvidiaSMI, "nvidia-smi to list the GPUs with")
	flag.StringVar(&opts.DeviceListStrategy, "device-list-strategy", envOr("DEVICE_LIST_STRATEGY", opts.DeviceListStrategy),
		"how Allocate passes the devices to the runtime: envvar, cdi-annotations, cdi-cri (comma-separated)")
	flag.StringVar(&opts.DeviceIDStrategy, "device-id-strategy", envOr("DEVICE_ID_STRATEGY", opts.DeviceIDStrategy),
		"what names a device in Allocate's answer: uuid or index")
	flag.StringVar(&opts.CDIAnnotationPrefix, "cdi-annotation-prefix", envOr("CDI_ANNOTATION_PREFIX", opts.CDIAnnotationPrefix),
		"prefix of the CDI annotation (cdi-annotations strategy)")
	flag.StringVar(&opts.PluginDir, "device-plugin-path", opts.PluginDir, "the kubelet's device-plugin directory")
	flag.StringVar(&opts.KubeletSocket, "kubelet-socket", opts.KubeletSocket, "the kubelet's registration socket")
	once := flag.Bool("list", false, "print the devices that would be advertised and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected argument %q", flag.Arg(0))
	}
	if err := opts.validate(); err != nil {
		fatalf("%v", err)
	}
	devices, err := listGPUs(opts.NvidiaSMI)
	if err != nil {
		fatalf("%v", err)
	}
	if *once {
		for _, d := range devices {
			fmt.Printf("%d %s\n", d.Index, d.UUID)
		}
		return
	}
	logf("STAND-IN for k3s_gpu.node tests: NVIDIA device plugin for %s, %d device(s), strategies %s, ids %s",
		resourceName, len(devices), opts.DeviceListStrategy, opts.DeviceIDStrategy)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	p := newPlugin(opts, devices)
	if err := p.run(ctx, time.Second); err != nil {
		fatalf("%v", err)
	}
	logf("stopped")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s nvidia-device-plugin: %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func fatalf(format string, args ...any) {
	logf("error: "+format, args...)
	os.Exit(1)
}

// Command kube is one multi-call binary holding the upstream kube-apiserver,
// kube-scheduler, kube-controller-manager, kubelet (k8s.io/kubernetes, the
// version pinned in go.mod) and etcd (go.etcd.io/etcd/server/v3), the way K3s
// links the Kubernetes components into one executable: shared packages are
// linked once, so the GPU run carries one binary instead of five.
//
// It runs the component named by its own file name (a symbolic link such as
// kubelet -> kube), or by its first argument: `kube kubelet --flags...`.
// Each case is the body of the upstream main function of that component:
// https://github.com/kubernetes/kubernetes/tree/v1.36.3/cmd/{kube-apiserver,
// kube-scheduler,kube-controller-manager,kubelet}/*.go, and etcd's
// etcdmain.Main as tests/lab/kube/apiserver/etcd/main.go calls it.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // for timeZone support in CronJob (kube-apiserver, kube-controller-manager)

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"}

func main() {
	name := filepath.Base(os.Args[0])
	if name == "kube" {
		if len(os.Args) < 2 {
			fmt.Fprintf(os.Stderr, "usage: kube COMPONENT [flags] (one of %v), or a link named after it\n", components)
			os.Exit(2)
		}
		os.Args = os.Args[1:]
		name = os.Args[0]
	}
	switch name {
	case "etcd":
		etcdmain.Main(os.Args)
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "kube-scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "kubelet":
		os.Exit(cli.Run(kubelet.NewKubeletCommand(context.Background())))
	default:
		fmt.Fprintf(os.Stderr, "kube: unknown component %q (one of %v)\n", name, components)
		os.Exit(2)
	}
}

// Command etcd is the upstream etcd server (go.etcd.io/etcd/server/v3/etcdmain)
// at the version k8s.io/kubernetes v1.36.3 requires. etcd's own main package
// lives in the go.etcd.io/etcd/v3 module, whose replace directives a depending
// module cannot use, so this file calls the same entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

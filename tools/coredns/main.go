// Command coredns is the cluster DNS of the local cluster's real node (scripts/cluster-net.sh).
//
// Upstream's own main imports core/plugin, which links every in-tree plugin (cloud DNS providers, etcd,
// dnstap, tracing, ...). This one links only the directives our Corefile uses, so the binary is a
// fraction of the size and builds in a fraction of the time. A directive missing here makes CoreDNS
// refuse the Corefile at start ("Unknown directive"), so the Corefile and this list change together.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"       // listen only on the address we are given
	_ "github.com/coredns/coredns/plugin/cache"      // keep answers briefly; spares the API server
	_ "github.com/coredns/coredns/plugin/errors"     // log failed lookups
	_ "github.com/coredns/coredns/plugin/forward"    // names outside cluster.local go to the host's resolver
	_ "github.com/coredns/coredns/plugin/health"     // liveness endpoint, polled by cluster-net.sh
	_ "github.com/coredns/coredns/plugin/kubernetes" // cluster.local from the API server
	_ "github.com/coredns/coredns/plugin/log"        // one line per query, for debugging a pod's lookups
	_ "github.com/coredns/coredns/plugin/loop"       // stop at once if forward would query ourselves
	_ "github.com/coredns/coredns/plugin/ready"      // readiness: the kubernetes plugin has synced
)

func main() {
	coremain.Run()
}

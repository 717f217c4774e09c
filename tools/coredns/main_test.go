package main

// Runs the Corefile that scripts/cluster-net.sh writes, with the plugins main.go links, against a
// stand-in API server that serves one namespace with a postgres Service. It proves what the node
// relies on: the directives of the Corefile are all linked, cluster.local names come from the API
// server, unknown names are NXDOMAIN, and nothing listens beyond the address we give.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
)

const (
	listenIP      = "127.0.0.53"
	otherLoopback = "127.0.0.1"
	postgresIP    = "10.96.7.7"
)

// Objects the stand-in API server lists, by request path.
var apiObjects = map[string]map[string]any{
	"/api/v1/namespaces": {"kind": "NamespaceList", "apiVersion": "v1", "items": []any{
		map[string]any{"metadata": map[string]any{"name": "demo", "resourceVersion": "1"}},
	}},
	"/api/v1/services": {"kind": "ServiceList", "apiVersion": "v1", "items": []any{
		map[string]any{
			"metadata": map[string]any{"name": "postgres", "namespace": "demo", "resourceVersion": "1"},
			"spec": map[string]any{
				"type": "ClusterIP", "clusterIP": postgresIP, "clusterIPs": []string{postgresIP},
				"ports": []any{map[string]any{"name": "postgres", "port": 5432, "protocol": "TCP"}},
			},
		},
	}},
	"/apis/discovery.k8s.io/v1/endpointslices": {"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1", "items": []any{
		map[string]any{
			"metadata": map[string]any{
				"name": "postgres-1", "namespace": "demo", "resourceVersion": "1",
				"labels": map[string]string{"kubernetes.io/service-name": "postgres"},
			},
			"addressType": "IPv4",
			"endpoints":   []any{map[string]any{"addresses": []string{"10.244.0.9"}, "conditions": map[string]bool{"ready": true}}},
			"ports":       []any{map[string]any{"name": "postgres", "port": 5432, "protocol": "TCP"}},
		},
	}},
}

// fakeAPIServer answers list requests from apiObjects and keeps watches open without events. A watch
// that asks for the initial objects as events (client-go's streaming list) gets them, then the bookmark
// that ends them. Watches end when the test does; the server closes then.
func fakeAPIServer(t *testing.T) string {
	testEnded := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, ok := apiObjects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") != "true" {
			withVersion := map[string]any{"metadata": map[string]any{"resourceVersion": "1"}}
			for k, v := range list {
				withVersion[k] = v
			}
			_ = json.NewEncoder(w).Encode(withVersion)
			return
		}
		encoder := json.NewEncoder(w)
		if r.URL.Query().Get("sendInitialEvents") == "true" {
			for _, item := range list["items"].([]any) {
				_ = encoder.Encode(map[string]any{"type": "ADDED", "object": item})
			}
			itemKind := strings.TrimSuffix(list["kind"].(string), "List")
			_ = encoder.Encode(map[string]any{"type": "BOOKMARK", "object": map[string]any{
				"kind": itemKind, "apiVersion": list["apiVersion"],
				"metadata": map[string]any{"resourceVersion": "1", "annotations": map[string]string{"k8s.io/initial-events-end": "true"}},
			}})
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-testEnded:
		}
	}))
	t.Cleanup(func() {
		close(testEnded)
		server.Close()
	})
	return server.URL
}

func freePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("no free port on %s: %v", ip, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// corefile is the Corefile of the node's CoreDNS pods (node_dns_manifest in scripts/cluster-node.sh),
// with the test's own addresses: a bind line for the listen address (the pod binds its own IP) and
// loopback health and ready ports.
func corefile(listenIP string, port int, healthAddr, readyAddr, kubeconfig string) string {
	return fmt.Sprintf(`.:%d {
    bind %s
    errors
    health %s
    ready %s
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %s local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
}
`, port, listenIP, healthAddr, readyAddr, kubeconfig)
}

func query(t *testing.T, server, name string) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	return r, err
}

func TestCorefileServesClusterLocalFromTheAPIServer(t *testing.T) {
	apiURL := fakeAPIServer(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfigText := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: %q}}]
users: [{name: fake, user: {}}]
contexts: [{name: local, context: {cluster: fake, user: fake}}]
current-context: local
`, apiURL)
	if err := os.WriteFile(kubeconfig, []byte(kubeconfigText), 0o600); err != nil {
		t.Fatal(err)
	}

	port := freePort(t, listenIP)
	readyAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1"))
	healthAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1"))
	instance, err := caddy.Start(caddy.CaddyfileInput{
		Contents:       []byte(corefile(listenIP, port, healthAddr, readyAddr, kubeconfig)),
		Filepath:       "Corefile",
		ServerTypeName: "dns",
	})
	if err != nil {
		t.Fatalf("CoreDNS refused the Corefile: %v", err)
	}
	defer instance.Stop()

	ready := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get("http://" + readyAddr + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = true
				break
			}
		}
	}
	if !ready {
		t.Fatalf("http://%s/ready never answered 200: the kubernetes plugin did not sync from the API server", readyAddr)
	}

	server := fmt.Sprintf("%s:%d", listenIP, port)
	r, err := query(t, server, "postgres.demo.svc.cluster.local")
	if err != nil {
		t.Fatalf("query postgres.demo.svc.cluster.local: %v", err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("postgres.demo.svc.cluster.local: want one answer, got rcode %s, answers %v", dns.RcodeToString[r.Rcode], r.Answer)
	}
	if a, ok := r.Answer[0].(*dns.A); !ok || a.A.String() != postgresIP {
		t.Fatalf("postgres.demo.svc.cluster.local: want A %s, got %v", postgresIP, r.Answer[0])
	}

	r, err = query(t, server, "missing.demo.svc.cluster.local")
	if err != nil {
		t.Fatalf("query missing.demo.svc.cluster.local: %v", err)
	}
	if r.Rcode != dns.RcodeNameError {
		t.Fatalf("missing.demo.svc.cluster.local: want NXDOMAIN, got %s", dns.RcodeToString[r.Rcode])
	}

	if _, err := query(t, fmt.Sprintf("%s:%d", otherLoopback, port), "postgres.demo.svc.cluster.local"); err == nil {
		t.Fatalf("%s:%d answered, but CoreDNS must listen on %s only", otherLoopback, port, listenIP)
	}
}

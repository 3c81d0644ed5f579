// Kvorum's stand-in for k8s.io/apiserver/pkg/storage/etcd3/testserver: the
// upstream storage tests call RunEtcd for a fresh etcd per test; this one
// starts a fresh single-member `kvorum node` process instead (the way kine
// runs these tests against its own server) and returns a client to it.
// build.sh copies the pinned k8s.io/apiserver module and puts this file in
// place of the upstream testserver/test_server.go. Written for Kvorum.
package testserver

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/kubernetes"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
)

func freePorts(count int) ([]int, error) {
	ports := []int{}
	for i := 0; i < count; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("could not bind to a port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// NewTestConfig keeps the upstream signature: tests adjust the config, and
// RunEtcd turns the fields Kvorum has flags for into flags.
func NewTestConfig(t testing.TB) *embed.Config {
	cfg := embed.NewConfig()
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.Dir = t.TempDir()
	return cfg
}

var autoPortLock sync.Mutex

// RunEtcd starts `node $KVORUM_REPO/bin/kvorum node` with the config's name,
// URLs and data dir, waits for /health, and stops it (SIGKILL) when the test ends.
func RunEtcd(t testing.TB, cfg *embed.Config) *kubernetes.Client {
	t.Helper()
	if cfg == nil {
		autoPortLock.Lock()
		defer autoPortLock.Unlock()
		cfg = NewTestConfig(t)
	}
	repo := os.Getenv("KVORUM_REPO")
	if repo == "" {
		t.Fatal("KVORUM_REPO is not set: run these tests with `npm run test:k8s-storage`")
	}
	clientURL := cfg.ListenClientUrls[0].String()
	peerURL := cfg.ListenPeerUrls[0].String()
	args := []string{
		filepath.Join(repo, "bin", "kvorum"), "node",
		"--name=" + cfg.Name,
		"--data-dir=" + filepath.Join(cfg.Dir, "kvorum"),
		"--listen-client-urls=" + clientURL, "--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=" + cfg.Name + "=" + peerURL,
		"--initial-cluster-state=new",
		"--heartbeat-interval=50", "--election-timeout=500",
		"--log-level=error",
	}
	if cfg.ExperimentalWatchProgressNotifyInterval > 0 {
		args = append(args, "--experimental-watch-progress-notify-interval="+cfg.ExperimentalWatchProgressNotifyInterval.String())
	}
	node := os.Getenv("KVORUM_NODE")
	if node == "" {
		node = "node"
	}
	cmd := exec.Command(node, args...)
	logPath := filepath.Join(cfg.Dir, "kvorum.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
		logFile.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(clientURL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("kvorum node did not become healthy in 60s:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	client, err := kubernetes.New(clientv3.Config{
		Endpoints:   []string{clientURL},
		DialTimeout: 10 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithBlock()},
		Logger:      zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel)).Named("etcd-client"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

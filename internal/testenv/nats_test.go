package testenv

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestStartNATSPubSub(t *testing.T) {
	n := StartNATS(t)
	if want := "nats://" + n.Addr; n.URL != want {
		t.Errorf("URL = %q, want %q", n.URL, want)
	}
	if !strings.HasPrefix(n.Addr, "127.0.0.1:") || n.Port <= 0 || n.PID <= 0 || n.Dir == "" {
		t.Errorf("NATS = %+v: want a loopback addr, a port, a PID and a dir", n)
	}
	if !n.Running() {
		t.Fatal("Running() = false after StartNATS")
	}

	sub, err := nats.Connect(n.URL, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs := make(chan *nats.Msg, 1)
	if _, err := sub.ChanSubscribe("testenv.ping", msgs); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil { // the server has the subscription
		t.Fatal(err)
	}
	pub, err := nats.Connect(n.URL, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish("testenv.ping", []byte("pong")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if string(m.Data) != "pong" {
			t.Errorf("received %q, want pong", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
}

func TestNATSStopReapsProcess(t *testing.T) {
	n := StartNATS(t)
	pid := n.PID
	n.Stop()
	if n.Running() {
		t.Fatal("Running() after Stop")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("pid %d still exists after Stop", pid)
	}
	if nc, err := nats.Connect(n.URL, nats.Timeout(time.Second), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("nats.Connect succeeded after Stop")
	}
	n.Stop() // idempotent
}

func TestNATSKill(t *testing.T) {
	n := StartNATS(t)
	pid := n.PID
	n.Kill()
	if n.Running() {
		t.Fatal("Running() after Kill")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("pid %d still exists after Kill", pid)
	}
}
